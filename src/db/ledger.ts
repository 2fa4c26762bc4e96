import { sql, CheckIntegrityConstraintViolationError, ForeignKeyIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { accountKey, accountOwner, OUTSIDE_KINDS, type AccountRef, type EntryInput } from '../domain/ledger';
import { amountToJson, type Currency } from '../domain/money';
import { newId } from '../ids';
import { ledgerAmount, ledgerEntries } from '../metrics/metrics';
import type { DatabaseConnection, DatabaseTransactionConnection } from './pool';
import { WalletRow } from './wallets';

export interface PostedEntry {
  txnId: string;
  idempotencyKey: string;
  createdAt: Date;
  /** True when the key had been posted before and nothing new was written. */
  replayed: boolean;
}

const EntryRow = z.object({ id: z.bigint(), txn_id: z.string(), created_at: z.date() });
const AccountRow = z.object({ id: z.bigint(), kind: z.string(), owner: z.string(), currency: z.string(), balance: z.bigint() });
type AccountRow = z.infer<typeof AccountRow>;
const PostingRow = z.object({ kind: z.string(), owner: z.string(), currency: z.string(), amount: z.bigint() });

function checkBalanced(input: EntryInput): void {
  if (input.postings.length < 2) throw new Error(`entry ${input.idempotencyKey} needs at least two postings`);
  const sums = new Map<string, bigint>();
  const seen = new Set<string>();
  for (const { account, amount } of input.postings) {
    if (amount === 0n) throw new Error(`entry ${input.idempotencyKey} has a zero posting`);
    const key = accountKey(account);
    if (seen.has(key)) throw new Error(`entry ${input.idempotencyKey} posts twice to ${key}`);
    seen.add(key);
    sums.set(account.currency, (sums.get(account.currency) ?? 0n) + amount);
  }
  for (const [currency, sum] of sums) {
    if (sum !== 0n) throw new Error(`entry ${input.idempotencyKey} does not balance in ${currency}`);
  }
}

/**
 * Posts one balanced journal entry. Idempotent by `idempotencyKey`: a second post of the same key
 * returns the first result, and a second post of the same key with different postings is refused.
 * Accounts are locked in id order so concurrent entries cannot deadlock; a debit that would take
 * any account but the funding account below zero is refused with INSUFFICIENT_FUNDS (and the
 * database's CHECK refuses it again should this code ever be wrong).
 */
export function postEntry(db: DatabaseConnection, input: EntryInput, options: PostOptions = {}): Promise<PostedEntry> {
  return db.transaction((tx) => postEntryIn(tx, input, options));
}

interface PostOptions {
  /** Runs after the accounts are locked and before the postings: checks that must not race (limits, statuses). */
  guard?: (tx: DatabaseTransactionConnection) => Promise<void>;
}

/**
 * postEntry inside the caller's transaction, which rolls back as a whole if this fails (no
 * savepoint of its own: two round trips fewer on the hot path of a settlement).
 */
export async function postEntryIn(tx: DatabaseTransactionConnection, input: EntryInput, options: PostOptions = {}): Promise<PostedEntry> {
  checkBalanced(input);
  try {
    const { inserted, accounts } = await insertEntryLockingAccounts(tx, input);
    if (!inserted) return await replay(tx, input);

    await options.guard?.(tx);
    for (const { account, amount } of input.postings) {
      const row = accounts.get(accountKey(account))!;
      if (!OUTSIDE_KINDS.has(account.kind) && row.balance + amount < 0n) {
        throw new DomainError('INSUFFICIENT_FUNDS', 'Wallet balance too low', {
          required_amount: amountToJson(-amount, account.currency),
          available_balance: amountToJson(row.balance, account.currency),
          currency: account.currency,
        });
      }
    }
    await tx.query(sql.unsafe`
      INSERT INTO postings (entry_id, account_id, currency, amount)
      SELECT ${inserted.id}, account_id, currency, amount
      FROM ${sql.unnest(
        input.postings.map((p) => [accounts.get(accountKey(p.account))!.id, p.account.currency, p.amount]),
        ['int8', 'bpchar', 'int8'],
      )} AS t(account_id, currency, amount)`);
    countEntry(input);
    return { txnId: inserted.txn_id, idempotencyKey: input.idempotencyKey, createdAt: inserted.created_at, replayed: false };
  } catch (err) {
    if (err instanceof CheckIntegrityConstraintViolationError && err.constraint === 'balance_non_negative') {
      throw new DomainError('INSUFFICIENT_FUNDS', 'Wallet balance too low');
    }
    if (err instanceof CheckIntegrityConstraintViolationError && err.constraint === 'wallet_account_currency') {
      throw new DomainError('CURRENCY_MISMATCH', 'A wallet receives only its own currency', { currency: input.postings[0]?.account.currency });
    }
    if (err instanceof ForeignKeyIntegrityConstraintViolationError && err.constraint === 'accounts_wallet_id_fkey') {
      throw new DomainError('NO_WALLET', 'Wallet does not exist');
    }
    throw err;
  }
}

/** Counted when written (a transaction that rolls back afterwards is counted all the same: the metric is of attempts that wrote). */
function countEntry(input: EntryInput): void {
  const credits = new Map<string, bigint>();
  for (const { account, amount } of input.postings) if (amount > 0n) credits.set(account.currency, (credits.get(account.currency) ?? 0n) + amount);
  for (const [currency, amount] of credits) {
    ledgerEntries.inc({ kind: input.kind, currency });
    ledgerAmount.inc({ kind: input.kind, currency }, Number(amount));
  }
}

async function replay(tx: DatabaseTransactionConnection, input: EntryInput): Promise<PostedEntry> {
  const entry = await tx.one(sql.type(EntryRow.extend({ kind: z.string() }))`
    SELECT id, txn_id, created_at, kind FROM journal_entries WHERE idempotency_key = ${input.idempotencyKey}`);
  const stored = await tx.any(sql.type(PostingRow)`
    SELECT a.kind, a.owner, p.currency, p.amount
    FROM postings p JOIN accounts a ON a.id = p.account_id
    WHERE p.entry_id = ${entry.id}`);
  const want = new Map(input.postings.map((p) => [accountKey(p.account), p.amount]));
  const same =
    entry.kind === input.kind &&
    stored.length === want.size &&
    stored.every((row) => want.get(`${row.kind}:${row.owner}:${row.currency}`) === row.amount);
  if (!same) {
    throw new DomainError('DUPLICATE_TRANSACTION', 'Idempotency key was already used for a different movement', {
      idempotency_key: input.idempotencyKey,
    });
  }
  return { txnId: entry.txn_id, idempotencyKey: input.idempotencyKey, createdAt: entry.created_at, replayed: true };
}

const EntryAndAccountRow = z.object({
  entry_id: z.bigint().nullable(),
  txn_id: z.string().nullable(),
  created_at: z.date().nullable(),
  id: z.bigint().nullable(),
  kind: z.string().nullable(),
  owner: z.string().nullable(),
  currency: z.string().nullable(),
  balance: z.bigint().nullable(),
});

/**
 * Writes the entry's row under its idempotency key and locks its accounts, in one statement (one
 * round trip): `inserted` is null when the key was posted before. The accounts are created when
 * missing and locked in id order (lockAccounts), so concurrent entries cannot deadlock.
 */
async function insertEntryLockingAccounts(
  tx: DatabaseTransactionConnection,
  input: EntryInput,
): Promise<{ inserted: z.infer<typeof EntryRow> | null; accounts: Map<string, AccountRow> }> {
  const refs = accountArrays(input.postings.map((p) => p.account));
  const rows = await tx.any(sql.type(EntryAndAccountRow)`
    WITH entry AS (
      INSERT INTO journal_entries (txn_id, idempotency_key, kind, reference, metadata)
      VALUES (${newId('transaction')}, ${input.idempotencyKey}, ${input.kind}, ${input.reference ?? null},
              ${sql.jsonb(JSON.parse(JSON.stringify(input.metadata ?? {})))})
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id, txn_id, created_at
    )
    SELECT e.id AS entry_id, e.txn_id, e.created_at, a.id, a.kind, a.owner, a.currency, a.balance
    FROM (SELECT 1) AS one
    LEFT JOIN entry e ON true
    LEFT JOIN LATERAL (${lockedAccountsQuery(refs)}) a ON true`);
  // Outer joins: a row's entry columns are all null or none (the key was posted before), and so are
  // its account columns (no account exists yet), so one column of each tells.
  const [first] = rows;
  const inserted = first && first.entry_id !== null ? { id: first.entry_id, txn_id: first.txn_id!, created_at: first.created_at! } : null;
  const found = rows.flatMap(({ id, kind, owner, currency, balance }) => (id === null ? [] : [{ id, kind: kind!, owner: owner!, currency: currency!, balance: balance! }]));
  if (!inserted || found.length === input.postings.length) return { inserted, accounts: accountsByKey(found) };
  return { inserted, accounts: await lockAccounts(tx, input.postings.map((p) => p.account)) };
}

/** The (kind, owner, currency) arrays of some accounts, in one order for every caller. */
function accountArrays(refs: AccountRef[]) {
  const sorted = [...refs].sort((a, b) => accountKey(a).localeCompare(accountKey(b)));
  return { kinds: sorted.map((r) => r.kind), owners: sorted.map(accountOwner), currencies: sorted.map((r) => r.currency) };
}

/** Locks the accounts that exist, in id order. */
const lockedAccountsQuery = ({ kinds, owners, currencies }: ReturnType<typeof accountArrays>) => sql.fragment`
  SELECT id, kind, owner, currency, balance FROM accounts
  WHERE (kind, owner, currency) IN (
    SELECT * FROM unnest(${sql.array(kinds, 'text')}, ${sql.array(owners, 'text')}, ${sql.array(currencies, 'bpchar')}))
  ORDER BY id
  FOR UPDATE`;

const accountsByKey = (rows: readonly AccountRow[]) => new Map(rows.map((row) => [`${row.kind}:${row.owner}:${row.currency}`, row]));

/** Creates missing accounts, then locks all of them in id order. Returns them by accountKey. */
async function lockAccounts(tx: DatabaseTransactionConnection, refs: AccountRef[]): Promise<Map<string, AccountRow>> {
  const arrays = accountArrays(refs);
  const { kinds, owners, currencies } = arrays;
  const select = () => tx.any(sql.type(AccountRow)`${lockedAccountsQuery(arrays)}`);
  let rows = await select();
  if (rows.length < refs.length) {
    await tx.query(sql.unsafe`
      INSERT INTO accounts (kind, owner, wallet_id, currency)
      SELECT kind, owner, CASE WHEN kind IN ('wallet', 'hold') THEN owner END, currency
      FROM unnest(${sql.array(kinds, 'text')}, ${sql.array(owners, 'text')}, ${sql.array(currencies, 'bpchar')})
        AS t(kind, owner, currency)
      ON CONFLICT (kind, owner, currency) DO NOTHING`);
    rows = await select();
  }
  return accountsByKey(rows);
}

const BalanceRow = z.object({ kind: z.string(), balance: z.bigint() });

/** Available (wallet account) and pending (held, not yet settled) balances of one wallet in one currency. */
export async function walletBalances(db: DatabaseConnection, walletId: string, currency: Currency): Promise<{ available: bigint; pending: bigint }> {
  const rows = await db.any(sql.type(BalanceRow)`
    SELECT kind, balance FROM accounts WHERE owner = ${walletId} AND kind IN ('wallet', 'hold') AND currency = ${currency}`);
  const of = (kind: string) => rows.find((r) => r.kind === kind)?.balance ?? 0n;
  return { available: of('wallet'), pending: of('hold') };
}

const UsageRow = z.object({ day: z.bigint(), month: z.bigint() });

/**
 * Money that left the wallet account today and this month (UTC), for limit checks: what was
 * refunded (a rejected or expired transfer) does not count. The database keeps these totals with
 * the postings (`wallet_usage`), so this reads at most a month of daily rows.
 */
export function walletUsage(db: DatabaseConnection, walletId: string, currency: Currency): Promise<{ day: bigint; month: bigint }> {
  return db.one(sql.type(UsageRow)`SELECT day, month FROM wallet_spent(${walletId}, ${currency})`);
}

// wallet_balance() (migration 0010) answers the wallet's columns GET balance shows, not the payment policy.
const WalletBalanceRow = WalletRow.omit({ require_payment_mfa: true }).extend({ available: z.bigint(), pending: z.bigint(), used_day: z.bigint(), used_month: z.bigint() });
export type WalletBalance = z.infer<typeof WalletBalanceRow>;

/**
 * The user's wallet with its balances and usage in `currency` (the wallet's own when omitted), in
 * one call of a PL/pgSQL function (migration 0010) whose plans PostgreSQL keeps: GET balance is the
 * hottest read.
 */
export function walletBalanceByUser(db: DatabaseConnection, userId: string, currency?: Currency): Promise<WalletBalance | null> {
  return db.maybeOne(sql.type(WalletBalanceRow)`SELECT * FROM wallet_balance(${userId}, ${currency ?? null})`);
}

const TotalsRow = z.object({ currency: z.string(), total: z.bigint() });

/** Sum of all balances per currency: zero for every currency, always. */
export async function balanceTotals(db: DatabaseConnection): Promise<Map<string, bigint>> {
  const rows = await db.any(sql.type(TotalsRow)`SELECT currency, sum(balance)::int8 AS total FROM accounts GROUP BY currency`);
  return new Map(rows.map((r) => [r.currency.trim(), r.total]));
}

const MerchantBalanceRow = z.object({ currency: z.string().transform((c) => c.trim()), available: z.bigint(), paying_out: z.bigint() });
export type MerchantBalance = z.infer<typeof MerchantBalanceRow>;

/** A mini-app's merchant account per currency, with what its payouts in progress hold. */
export function merchantBalances(db: DatabaseConnection, clientId: string): Promise<readonly MerchantBalance[]> {
  return db.any(sql.type(MerchantBalanceRow)`
    SELECT c.currency,
      coalesce((SELECT balance FROM accounts a WHERE a.kind = 'merchant' AND a.owner = ${clientId} AND a.currency = c.currency), 0)::int8 AS available,
      coalesce((SELECT sum(w.amount) FROM withdrawals w
                WHERE w.owner_kind = 'merchant' AND w.owner_id = ${clientId} AND w.currency = c.currency AND w.status = 'processing'), 0)::int8 AS paying_out
    FROM (SELECT currency FROM accounts WHERE kind = 'merchant' AND owner = ${clientId}
          UNION SELECT currency FROM withdrawals WHERE owner_kind = 'merchant' AND owner_id = ${clientId}) c
    ORDER BY c.currency`);
}
