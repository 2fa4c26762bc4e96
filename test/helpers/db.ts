import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { balanceTotals } from '../../src/db/ledger';
import { createDatabasePool, type DatabasePool } from '../../src/db/pool';
import { TEMPLATE_DATABASE, testEnv } from '../setup/env';

export interface TestDatabase {
  name: string;
  url: string;
  pool: DatabasePool;
  /** Checks that the ledger sums to zero per currency and that no hold is stranded, then drops the database. */
  close(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testEnv('adminUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function databaseUrl(name: string): string {
  const url = new URL(testEnv('adminUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, migrated database of its own for one test file (a copy of the migrated template). */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `tmcp_t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`));
  const url = databaseUrl(name);
  const pool = await createDatabasePool(url, { maximumPoolSize: 20 });
  return {
    name,
    url,
    pool,
    async close() {
      try {
        const totals = await balanceTotals(pool);
        const unbalanced = [...totals].filter(([, total]) => total !== 0n);
        if (unbalanced.length > 0) throw new Error(`ledger does not sum to zero: ${JSON.stringify(unbalanced.map(([c, t]) => [c, String(t)]))}`);
        // Money in a hold belongs to a transfer still waiting for its recipient, and to nothing else.
        const stranded = await pool.any(sql.type(z.object({ owner: z.string(), balance: z.bigint(), waiting: z.bigint() }))`
          SELECT a.owner, a.balance, coalesce(sum(t.amount) FILTER (WHERE t.status = 'pending_recipient_acceptance'), 0)::int8 AS waiting
          FROM accounts a LEFT JOIN p2p_transfers t ON t.sender_wallet_id = a.owner AND t.currency = a.currency
          WHERE a.kind = 'hold'
          GROUP BY a.id, a.owner, a.balance
          HAVING a.balance <> coalesce(sum(t.amount) FILTER (WHERE t.status = 'pending_recipient_acceptance'), 0)`);
        if (stranded.length > 0) throw new Error(`holds that no waiting transfer explains: ${JSON.stringify(stranded, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        // Money in a payout account belongs to a withdrawal the provider is still paying out, and to nothing else.
        const heldOut = await pool.any(sql.type(z.object({ owner: z.string(), balance: z.bigint() }))`
          SELECT a.owner, a.balance FROM accounts a LEFT JOIN withdrawals w ON w.id = a.owner
          WHERE a.kind = 'payout' AND a.balance <> CASE WHEN w.status = 'processing' THEN w.amount ELSE 0 END`);
        if (heldOut.length > 0) throw new Error(`payout accounts that no withdrawal in progress explains: ${JSON.stringify(heldOut, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      } finally {
        await pool.end();
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    },
  };
}
