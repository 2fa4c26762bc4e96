import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import { WITHDRAWAL_STATES, type WithdrawalState } from '../domain/withdrawals';
import type { Owner } from './externalAccounts';
import type { DatabaseConnection, DatabasePool } from './pool';

export const WithdrawalRow = z.object({
  id: z.string(),
  owner_kind: z.enum(['user', 'merchant']),
  owner_id: z.string(),
  wallet_id: z.string().nullable(),
  client_id: z.string().nullable(),
  external_account_id: z.string(),
  provider: z.string(),
  provider_ref: z.string().nullable(),
  amount: z.bigint(),
  currency: z.string().transform((c) => c.trim() as Currency),
  status: z.enum(WITHDRAWAL_STATES),
  status_reason: z.string().nullable(),
  hold_txn_id: z.string().nullable(),
  settle_txn_id: z.string().nullable(),
  refund_txn_id: z.string().nullable(),
  reconcile: z.string().nullable(),
  provider_paid_at: z.date().nullable(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  created_at: z.date(),
  deadline_at: z.date(),
  finished_at: z.date().nullable(),
});
export type Withdrawal = z.infer<typeof WithdrawalRow>;

export interface NewWithdrawal {
  id: string;
  owner: Owner;
  walletId: string | null;
  clientId: string | null;
  externalAccountId: string;
  provider: string;
  amount: bigint;
  currency: Currency;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
  deadlineAt: Date;
}

/** Inserts the withdrawal, or answers the one stored under the same owner and idempotency key. */
export async function insertWithdrawal(db: DatabaseConnection, w: NewWithdrawal): Promise<{ withdrawal: Withdrawal; created: boolean }> {
  const inserted = await db.maybeOne(sql.type(WithdrawalRow)`
    INSERT INTO withdrawals (id, owner_kind, owner_id, wallet_id, client_id, external_account_id, provider, amount, currency,
                             idempotency_key, request_hash, created_at, deadline_at)
    VALUES (${w.id}, ${w.owner.kind}, ${w.owner.id}, ${w.walletId}, ${w.clientId}, ${w.externalAccountId}, ${w.provider}, ${w.amount}, ${w.currency},
            ${w.idempotencyKey}, ${w.requestHash}, ${w.createdAt.toISOString()}, ${w.deadlineAt.toISOString()})
    ON CONFLICT (owner_kind, owner_id, idempotency_key) DO NOTHING
    RETURNING *`);
  if (inserted) return { withdrawal: inserted, created: true };
  const stored = await db.one(sql.type(WithdrawalRow)`
    SELECT * FROM withdrawals WHERE owner_kind = ${w.owner.kind} AND owner_id = ${w.owner.id} AND idempotency_key = ${w.idempotencyKey}`);
  return { withdrawal: stored, created: false };
}

export function withdrawalById(db: DatabaseConnection, id: string, forUpdate = false): Promise<Withdrawal | null> {
  return db.maybeOne(sql.type(WithdrawalRow)`SELECT * FROM withdrawals WHERE id = ${id} ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

export function withdrawalByProviderRef(db: DatabaseConnection, provider: string, providerRef: string): Promise<Withdrawal | null> {
  return db.maybeOne(sql.type(WithdrawalRow)`SELECT * FROM withdrawals WHERE provider = ${provider} AND provider_ref = ${providerRef}`);
}

export function withdrawalsOf(db: DatabaseConnection, owner: Owner, page: { limit: number; offset: number }): Promise<readonly Withdrawal[]> {
  return db.any(sql.type(WithdrawalRow)`
    SELECT * FROM withdrawals WHERE owner_kind = ${owner.kind} AND owner_id = ${owner.id}
    ORDER BY created_at DESC, id DESC LIMIT ${page.limit} OFFSET ${page.offset}`);
}

/**
 * The provider's payout reference, kept once (a retried step writes the same). A "paid" the provider
 * reported before it was kept (keepEarlyPaidReport) is taken over then. Each side writes, commits,
 * then reads what the other wrote, so whichever comes second sees the first.
 */
export async function recordPayoutRef(db: DatabaseConnection, id: string, providerRef: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE withdrawals SET provider_ref = ${providerRef} WHERE id = ${id} AND (provider_ref IS NULL OR provider_ref = ${providerRef})`);
  await db.query(sql.unsafe`
    UPDATE withdrawals w SET provider_paid_at = r.reported_at
    FROM payout_paid_reports r
    WHERE w.id = ${id} AND r.provider = w.provider AND r.provider_ref = ${providerRef} AND w.provider_paid_at IS NULL`);
}

/** A "paid" for a payout no withdrawal has recorded yet: kept for recordPayoutRef. */
export async function keepEarlyPaidReport(db: DatabaseConnection, provider: string, providerRef: string): Promise<void> {
  await db.query(sql.unsafe`INSERT INTO payout_paid_reports (provider, provider_ref) VALUES (${provider}, ${providerRef}) ON CONFLICT DO NOTHING`);
}

/**
 * Early "paid" reports a withdrawal has taken over, and those no withdrawal recorded within the
 * longest deadline a withdrawal can have (they were logged as no payout of ours when they came).
 */
export async function purgePayoutReports(db: DatabaseConnection): Promise<number> {
  const result = await db.query(sql.unsafe`
    DELETE FROM payout_paid_reports r
    WHERE r.reported_at < now() - interval '31 days'
       OR EXISTS (SELECT 1 FROM withdrawals w WHERE w.provider = r.provider AND w.provider_ref = r.provider_ref AND w.provider_paid_at IS NOT NULL)`);
  return result.rowCount;
}

export async function setWithdrawalStatus(
  db: DatabaseConnection,
  id: string,
  change: { status: WithdrawalState; reason?: string; holdTxnId?: string; settleTxnId?: string; refundTxnId?: string; reconcile?: string; finished?: boolean },
): Promise<Withdrawal> {
  return db.one(sql.type(WithdrawalRow)`
    UPDATE withdrawals SET status = ${change.status},
      status_reason = coalesce(${change.reason ?? null}, status_reason),
      hold_txn_id = coalesce(${change.holdTxnId ?? null}, hold_txn_id),
      settle_txn_id = coalesce(${change.settleTxnId ?? null}, settle_txn_id),
      refund_txn_id = coalesce(${change.refundTxnId ?? null}, refund_txn_id),
      reconcile = coalesce(reconcile, ${change.reconcile ?? null}),
      finished_at = CASE WHEN ${change.finished ?? false} THEN now() ELSE finished_at END
    WHERE id = ${id} RETURNING *`);
}

/** Why a withdrawal is flagged: the provider paid out money that had already gone back to its owner. */
export const paidAfterGivenBack = (status: string) => `the provider reported the payout paid after it was ${status}; the money went back to the owner`;

/**
 * The provider says a payout is paid: noted on the row under its lock. One already given back is
 * flagged for operators here; one being given back at this moment finds the note when its turn
 * for the lock comes (src/ledger/withdrawals.ts). Answers the row, and whether this report flagged it.
 */
export async function notePayoutPaid(pool: DatabasePool, provider: string, providerRef: string): Promise<{ withdrawal: Withdrawal | null; flagged: boolean }> {
  return pool.transaction(async (tx) => {
    const w = await tx.maybeOne(sql.type(WithdrawalRow)`SELECT * FROM withdrawals WHERE provider = ${provider} AND provider_ref = ${providerRef} FOR UPDATE`);
    if (!w) return { withdrawal: null, flagged: false };
    const flagged = (w.status === 'failed' || w.status === 'expired') && w.reconcile === null;
    const noted = await tx.one(sql.type(WithdrawalRow)`
      UPDATE withdrawals SET provider_paid_at = coalesce(provider_paid_at, now()),
        reconcile = coalesce(reconcile, ${flagged ? paidAfterGivenBack(w.status) : null})
      WHERE id = ${w.id} RETURNING *`);
    return { withdrawal: noted, flagged };
  });
}

export function withdrawalsToReconcile(db: DatabaseConnection): Promise<readonly Withdrawal[]> {
  return db.any(sql.type(WithdrawalRow)`SELECT * FROM withdrawals WHERE reconcile IS NOT NULL ORDER BY finished_at DESC LIMIT 500`);
}
