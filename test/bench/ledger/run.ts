import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { postEntry } from '../../../src/db/ledger';
import { migrate } from '../../../src/db/migrate';
import { createDatabasePool, type DatabasePool } from '../../../src/db/pool';
import { startEmbeddedPostgres } from '../../../src/dev/embeddedPostgres';
import type { AccountRef } from '../../../src/domain/ledger';
import { clockTicksPerSecond, cpuDelta, cpuSnapshot } from '../load/processes';

/**
 * `npm run bench:ledger`: journal entries per second through src/ledger alone (postEntry: the
 * idempotency-keyed insert, the accounts locked in id order, the balance check, the postings),
 * on an embedded PostgreSQL of its own (DATABASE_URL: an external one), with BENCH_LEDGER_CLIENTS
 * (16) concurrent posters over a pool of BENCH_LEDGER_POOL (10) connections. Each entry moves one
 * minor unit between two different accounts chosen at random among N merchant accounts, for N =
 * BENCH_LEDGER_ACCOUNTS (1000,10,2): from spread out to two hot accounts, where every entry waits
 * for the one before it on the same rows. Each count runs twice, with queries as prepared statements
 * (DATABASE_PREPARED_STATEMENTS=on, the default) and without, in turn, so the two are compared in
 * one machine state; BENCH_LEDGER_PREPARED=on or off runs one. Prints entries/s, p50/p99 and
 * PostgreSQL's CPU per entry, and checks the ledger sums to zero.
 */
const SECONDS = Number(process.env.BENCH_LEDGER_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_LEDGER_CLIENTS ?? 16);
const POOL = Number(process.env.BENCH_LEDGER_POOL ?? 10);
const ACCOUNT_COUNTS = (process.env.BENCH_LEDGER_ACCOUNTS ?? '1000,10,2').split(',').map(Number);
const PREPARED = { both: [true, false], on: [true], off: [false] }[process.env.BENCH_LEDGER_PREPARED ?? 'both'] ?? [true, false];
const CURRENCY = 'USD' as const;

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

const merchant = (runId: string, i: number): AccountRef => ({ kind: 'merchant', clientId: `ma_bench_${runId}_${i}`, currency: CURRENCY });

async function fund(pool: DatabasePool, runId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    await postEntry(pool, {
      idempotencyKey: `bench-ledger-fund-${runId}-${i}`,
      kind: 'funding',
      postings: [
        { account: { kind: 'funding', currency: CURRENCY }, amount: -1_000_000_000n },
        { account: merchant(runId, i), amount: 1_000_000_000n },
      ],
    });
  }
}

async function run(pool: DatabasePool, accounts: number, external: boolean): Promise<string> {
  const runId = `${accounts}x${Date.now().toString(36)}`;
  await fund(pool, runId, accounts);
  const latencies: number[] = [];
  let entries = 0;
  let failures = 0;
  let stopping = false;
  const ticksPerMs = clockTicksPerSecond() / 1000;
  // This process is the embedded PostgreSQL's parent: its subtree is the server; `generator` is this process.
  const snapshot = () => cpuSnapshot(process.pid, { postgres: external, temporal: true });
  const before = snapshot();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      let n = 0;
      while (!stopping) {
        const a = Math.floor(Math.random() * accounts);
        const b = (a + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
        const t0 = performance.now();
        try {
          await postEntry(pool, {
            idempotencyKey: `bench-ledger-${runId}-${client}-${(n += 1)}`,
            kind: 'p2p_transfer',
            postings: [
              { account: merchant(runId, a), amount: -1n },
              { account: merchant(runId, b), amount: 1n },
            ],
          });
          entries += 1;
          latencies.push(performance.now() - t0);
        } catch {
          failures += 1;
        }
        if (performance.now() - started >= SECONDS * 1000) stopping = true;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = cpuDelta(before, snapshot());
  const perEntry = (ticks: number | null) => (ticks === null ? 'n/a' : (ticks / ticksPerMs / Math.max(1, entries)).toFixed(2));
  latencies.sort((x, y) => x - y);
  const perSecond = entries / (elapsedMs / 1000);
  return [
    String(accounts).padStart(8),
    String(entries).padStart(8),
    String(failures).padStart(6),
    perSecond.toFixed(0).padStart(9),
    percentile(latencies, 50).toFixed(1).padStart(7),
    percentile(latencies, 99).toFixed(1).padStart(7),
    perEntry(used.roles.postgres).padStart(11),
    perEntry(used.generator).padStart(12),
  ].join('  ');
}

async function main(): Promise<void> {
  let dataDir: string | undefined;
  let stop = async () => {};
  let url = process.env.DATABASE_URL;
  if (!url) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'tmcp-ledger-bench-'));
    const pg = await startEmbeddedPostgres({ dataDir, port: 54_000 + Math.floor(Math.random() * 1000), password: 'bench', database: 'bench', persistent: false });
    url = pg.url;
    stop = pg.stop;
  }
  try {
    await migrate(url);
    const pools = new Map(await Promise.all(PREPARED.map(async (prepared) => [prepared, await createDatabasePool(url, { maximumPoolSize: POOL, preparedStatements: prepared })] as const)));
    const pool = pools.values().next().value!;
    try {
      console.log(`ledger benchmark: ${CLIENTS} posters, pool ${POOL}, ${SECONDS} s per account count${process.env.DATABASE_URL ? ', external PostgreSQL' : ''}`);
      console.log('accounts  prepared   entries  failed  entries/s   p50 ms   p99 ms  pg ms/entry  node ms/entry');
      for (const [i, accounts] of ACCOUNT_COUNTS.entries()) {
        // Alternating which goes first, so neither always runs on the warmer machine.
        const order = i % 2 === 0 ? [...pools] : [...pools].reverse();
        for (const [prepared, p] of order) {
          const row = await run(p, accounts, process.env.DATABASE_URL !== undefined);
          console.log(`${row.slice(0, 8)}  ${(prepared ? 'on' : 'off').padStart(8)}${row.slice(8)}`);
        }
      }
      const sums = await pool.any(sql.type(z.object({ currency: z.string(), total: z.string() }))`SELECT currency, sum(balance)::text AS total FROM accounts GROUP BY currency`);
      console.log(`ledger sums: ${sums.map((s) => `${s.currency} ${s.total}`).join(', ')}${sums.every((s) => s.total === '0') ? ' (zero)' : ' NOT ZERO'}`);
      if (!sums.every((s) => s.total === '0')) process.exitCode = 1;
    } finally {
      for (const p of pools.values()) await p.end();
    }
  } finally {
    await stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
