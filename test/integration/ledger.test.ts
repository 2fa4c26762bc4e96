import { sql } from 'slonik';
import { z } from 'zod';
import { balanceTotals, postEntry, walletBalances } from '../../src/db/ledger';
import { insertWallet } from '../../src/db/wallets';
import { DomainError } from '../../src/domain/errors';
import { CURRENCIES, type Currency } from '../../src/domain/money';
import { newId } from '../../src/ids';
import { freshDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

async function wallet(currency: Currency = 'USD'): Promise<string> {
  const id = newId('wallet');
  await insertWallet(db.pool, { id, userId: `@${id}:test`, currency, transactionLimit: 10n ** 9n, dailyLimit: 10n ** 9n, monthlyLimit: 10n ** 9n });
  return id;
}

function fund(walletId: string, amount: bigint, key = newId('request'), currency: Currency = 'USD') {
  return postEntry(db.pool, {
    idempotencyKey: key,
    kind: 'funding',
    postings: [
      { account: { kind: 'funding', currency }, amount: -amount },
      { account: { kind: 'wallet', walletId, currency }, amount },
    ],
  });
}

function transfer(from: string, to: string, amount: bigint, key = newId('request')) {
  return postEntry(db.pool, {
    idempotencyKey: key,
    kind: 'p2p_transfer',
    postings: [
      { account: { kind: 'wallet', walletId: from, currency: 'USD' }, amount: -amount },
      { account: { kind: 'wallet', walletId: to, currency: 'USD' }, amount },
    ],
  });
}

test('the currencies table holds exactly the currencies the code knows, with the same exponents', async () => {
  const rows = await db.pool.any(sql.type(z.object({ code: z.string(), exponent: z.number() }))`SELECT code, exponent FROM currencies ORDER BY code`);
  expect(Object.fromEntries(rows.map((r) => [r.code, r.exponent]))).toEqual(
    Object.fromEntries(Object.entries(CURRENCIES).map(([code, c]) => [code, c.exponent])),
  );
});

test('posting the same idempotency key twice writes one entry and returns the first result', async () => {
  const w = await wallet();
  const first = await fund(w, 1500n, 'fund-once');
  const second = await fund(w, 1500n, 'fund-once');
  expect(second).toEqual({ ...first, replayed: true });
  expect(first.replayed).toBe(false);
  expect((await walletBalances(db.pool, w, 'USD')).available).toBe(1500n);
  const count = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM journal_entries WHERE idempotency_key = 'fund-once'`);
  expect(count).toBe(1);
});

test('concurrent posts of one key write once', async () => {
  const w = await wallet();
  const results = await Promise.all(Array.from({ length: 10 }, () => fund(w, 700n, 'fund-race')));
  expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  expect(new Set(results.map((r) => r.txnId)).size).toBe(1);
  expect((await walletBalances(db.pool, w, 'USD')).available).toBe(700n);
});

test('the same key with a different movement is refused as DUPLICATE_TRANSACTION', async () => {
  const w = await wallet();
  await fund(w, 100n, 'fund-conflict');
  await expect(fund(w, 200n, 'fund-conflict')).rejects.toMatchObject({ code: 'DUPLICATE_TRANSACTION' });
  expect((await walletBalances(db.pool, w, 'USD')).available).toBe(100n);
});

test('a debit beyond the balance is refused and writes nothing', async () => {
  const [a, b] = [await wallet(), await wallet()];
  await fund(a, 1000n);
  const error = await transfer(a, b, 1001n, 'too-much').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  expect(error).toMatchObject({ code: 'INSUFFICIENT_FUNDS', details: { required_amount: 10.01, available_balance: 10 } });
  expect(await walletBalances(db.pool, a, 'USD')).toEqual({ available: 1000n, pending: 0n });
  expect(await walletBalances(db.pool, b, 'USD')).toEqual({ available: 0n, pending: 0n });
  const written = await db.pool.exists(sql.unsafe`SELECT 1 FROM journal_entries WHERE idempotency_key = 'too-much'`);
  expect(written).toBe(false);
});

test('the database itself refuses a negative wallet balance', async () => {
  const w = await wallet();
  await expect(
    db.pool.query(sql.unsafe`UPDATE accounts SET balance = -1 WHERE kind = 'wallet' AND owner = ${w}`),
  ).rejects.toMatchObject({ constraint: 'balance_non_negative' });
});

test('the database refuses an entry whose postings do not balance', async () => {
  const w = await wallet();
  await fund(w, 100n);
  await expect(
    db.pool.transaction(async (tx) => {
      const entry = await tx.oneFirst(sql.type(z.object({ id: z.bigint() }))`
        INSERT INTO journal_entries (txn_id, idempotency_key, kind) VALUES (${newId('transaction')}, ${newId('request')}, 'funding') RETURNING id`);
      const account = await tx.oneFirst(sql.type(z.object({ id: z.bigint() }))`SELECT id FROM accounts WHERE kind = 'wallet' AND owner = ${w}`);
      await tx.query(sql.unsafe`INSERT INTO postings (entry_id, account_id, currency, amount) VALUES (${entry}, ${account}, 'USD', 5)`);
    }),
  ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/does not balance/) } });
  expect((await walletBalances(db.pool, w, 'USD')).available).toBe(100n);
});

test('journal entries and postings cannot be changed or deleted', async () => {
  const w = await wallet();
  await fund(w, 100n, 'immutable');
  await expect(db.pool.query(sql.unsafe`UPDATE journal_entries SET kind = 'x' WHERE idempotency_key = 'immutable'`)).rejects.toThrow(/append-only/);
  await expect(db.pool.query(sql.unsafe`DELETE FROM postings`)).rejects.toThrow(/append-only/);
});

test('an entry that does not balance never reaches the database', async () => {
  const w = await wallet();
  await expect(
    postEntry(db.pool, {
      idempotencyKey: newId('request'),
      kind: 'funding',
      postings: [
        { account: { kind: 'funding', currency: 'USD' }, amount: -5n },
        { account: { kind: 'wallet', walletId: w, currency: 'USD' }, amount: 4n },
      ],
    }),
  ).rejects.toThrow(/does not balance/);
});

test('posting to a wallet that does not exist is refused as NO_WALLET', async () => {
  await expect(fund(newId('wallet'), 100n)).rejects.toMatchObject({ code: 'NO_WALLET' });
});

test('200 concurrent random transfers between 20 wallets conserve money and never overdraw', async () => {
  const wallets = await Promise.all(Array.from({ length: 20 }, () => wallet()));
  await Promise.all(wallets.map((w) => fund(w, 10_000n)));
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const moves = Array.from({ length: 200 }, () => {
    const from = wallets[random(20)]!;
    let to = wallets[random(20)]!;
    if (to === from) to = wallets[(wallets.indexOf(from) + 1) % 20]!;
    return { from, to, amount: BigInt(1 + random(4000)) };
  });
  const outcomes = await Promise.allSettled(moves.map((m) => transfer(m.from, m.to, m.amount)));
  const rejected = outcomes.filter((o) => o.status === 'rejected');
  for (const r of rejected) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
  expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(100);

  const balances = await Promise.all(wallets.map((w) => walletBalances(db.pool, w, 'USD')));
  for (const b of balances) expect(b.available).toBeGreaterThanOrEqual(0n);
  expect(balances.reduce((sum, b) => sum + b.available, 0n)).toBe(20n * 10_000n);
  const totals = await balanceTotals(db.pool);
  for (const total of totals.values()) expect(total).toBe(0n);
  // Each account's balance equals the sum of its postings.
  const drift = await db.pool.any(sql.type(z.object({ id: z.bigint() }))`
    SELECT a.id FROM accounts a LEFT JOIN postings p ON p.account_id = a.id
    GROUP BY a.id, a.balance HAVING a.balance <> coalesce(sum(p.amount), 0)`);
  expect(drift).toEqual([]);
});
