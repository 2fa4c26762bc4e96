import { sql } from 'slonik';
import { z } from 'zod';
import { balanceTotals } from '../../../src/db/ledger';
import { createDatabasePool } from '../../../src/db/pool';
import type { HttpClient } from './httpClient';
import { mapLimit, type WalletExpectation } from './users';

export interface BalanceCheck {
  ok: boolean;
  wallets: number;
  mismatches: { label: string; walletId: string; expected: number; available: number; pending: number }[];
}

export interface LedgerCheck {
  ok: boolean;
  /** Sum of account balances per currency (the tests' check): zero when the ledger balances. */
  balanceTotals: Record<string, string>;
  /** Sum of all postings per currency: zero too, since every entry balances. */
  postingTotals: Record<string, string>;
  /** Accounts whose balance is not the sum of their postings. */
  accountsOffTheirPostings: number;
}

/**
 * Reads GET /api/v1/wallet/balance for each wallet and compares it with what the answers imply:
 * its funding, less what it sent and plus what it received in transfers whose confirm answered
 * `completed`. Nothing is held: every amount is below the acceptance threshold.
 */
export async function checkBalances(http: HttpClient, wallets: WalletExpectation[]): Promise<BalanceCheck> {
  const read = await mapLimit(wallets, 8, async (w) => {
    const body = await http.json('GET', '/api/v1/wallet/balance', [200], { token: w.token });
    const minor = (v: number) => Math.round(v * 100);
    return { label: w.label, walletId: w.walletId, expected: w.expectedMinor, available: minor(body.balance.available), pending: minor(body.balance.pending) };
  });
  const mismatches = read.filter((r) => r.available !== r.expected || r.pending !== 0);
  return { ok: mismatches.length === 0, wallets: wallets.length, mismatches };
}

const Total = z.object({ currency: z.string(), total: z.bigint() });

export async function checkLedger(databaseUrl: string): Promise<LedgerCheck> {
  const pool = await createDatabasePool(databaseUrl, { maximumPoolSize: 1 });
  try {
    const balances = await balanceTotals(pool);
    const postings = await pool.any(sql.type(Total)`SELECT currency, sum(amount)::int8 AS total FROM postings GROUP BY currency`);
    const off = await pool.oneFirst(sql.type(z.object({ count: z.bigint() }))`
      SELECT count(*)::int8 AS count FROM accounts a
      WHERE a.balance <> coalesce((SELECT sum(p.amount) FROM postings p WHERE p.account_id = a.id), 0)`);
    const text = (entries: Iterable<[string, bigint]>) => Object.fromEntries([...entries].map(([c, t]) => [c.trim(), String(t)]));
    const balanceTotalsText = text(balances);
    const postingTotals = text(postings.map((r) => [r.currency, r.total] as [string, bigint]));
    const zero = (totals: Record<string, string>) => Object.values(totals).every((t) => t === '0');
    return {
      ok: zero(balanceTotalsText) && zero(postingTotals) && off === 0n,
      balanceTotals: balanceTotalsText,
      postingTotals,
      accountsOffTheirPostings: Number(off),
    };
  } finally {
    await pool.end();
  }
}
