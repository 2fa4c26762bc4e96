import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import { P2P_STATES, type P2PState } from '../domain/p2p';
import { DomainError } from '../domain/errors';
import { enrolledMethodsOf } from './mfa';
import type { DatabaseConnection } from './pool';
import { walletColumns, WalletRow, WALLET_STATUSES, type Wallet, type WalletStatus } from './wallets';

export const TransferRow = z.object({
  id: z.string(),
  sender_user_id: z.string(),
  sender_wallet_id: z.string(),
  recipient_user_id: z.string(),
  recipient_wallet_id: z.string(),
  amount: z.bigint(),
  currency: z.string().transform((c) => c.trim() as Currency),
  note: z.string().nullable(),
  room_id: z.string().nullable(),
  status: z.enum(P2P_STATES),
  status_reason: z.string().nullable(),
  recipient_acceptance_required: z.boolean(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  initiate_response: z.record(z.unknown()),
  auth_method: z.string().nullable(),
  auth_attempts: z.number(),
  event_id: z.string().nullable(),
  status_event_id: z.string().nullable(),
  event_error: z.string().nullable(),
  status_event_error: z.string().nullable(),
  authorization_expires_at: z.date(),
  acceptance_expires_at: z.date().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
  confirmed_at: z.date().nullable(),
  completed_at: z.date().nullable(),
  rejected_at: z.date().nullable(),
  expired_at: z.date().nullable(),
  cancelled_at: z.date().nullable(),
  failed_calls: z.number(),
  client_id: z.string().nullable(),
});
export type Transfer = z.infer<typeof TransferRow>;

export interface NewTransfer {
  id: string;
  senderUserId: string;
  senderWalletId: string;
  recipientUserId: string;
  recipientWalletId: string;
  amount: bigint;
  currency: Currency;
  note?: string;
  roomId?: string;
  recipientAcceptanceRequired: boolean;
  idempotencyKey: string;
  requestHash: string;
  initiateResponse: Record<string, unknown>;
  /** The mini-app the transfer was made through. */
  clientId: string;
  createdAt: Date;
  authorizationExpiresAt: Date;
}

/**
 * Records a new transfer, or returns the one the sender already made with this idempotency key
 * (`created: false`). The sender's wallet row is locked while the key is looked up and the
 * transfers waiting for authorization are counted, so neither concurrent identical requests nor
 * concurrent new ones can get past the check: one more than `maxPending` is refused.
 */
export async function insertTransfer(db: DatabaseConnection, t: NewTransfer, maxPending: number): Promise<{ transfer: Transfer; created: boolean }> {
  return db.transaction(async (tx) => {
    // The sender's wallet row serializes their initiates: the count below sees every one before it.
    await tx.query(sql.unsafe`SELECT 1 FROM wallets WHERE id = ${t.senderWalletId} FOR UPDATE`);
    const pending = sql.fragment`(SELECT count(*) FROM p2p_transfers WHERE sender_user_id = ${t.senderUserId} AND status = 'pending_authorization')`;
    const inserted = await tx.maybeOne(sql.type(TransferRow)`
      INSERT INTO p2p_transfers (id, sender_user_id, sender_wallet_id, recipient_user_id, recipient_wallet_id, amount, currency,
        note, room_id, status, recipient_acceptance_required, idempotency_key, request_hash, initiate_response,
        client_id, created_at, updated_at, authorization_expires_at)
      SELECT ${t.id}, ${t.senderUserId}, ${t.senderWalletId}, ${t.recipientUserId}, ${t.recipientWalletId}, ${t.amount}, ${t.currency},
        ${t.note ?? null}, ${t.roomId ?? null}, 'pending_authorization', ${t.recipientAcceptanceRequired}, ${t.idempotencyKey},
        ${t.requestHash}, ${sql.json(JSON.parse(JSON.stringify(t.initiateResponse)))}, ${t.clientId}, ${t.createdAt.toISOString()}::timestamptz,
        ${t.createdAt.toISOString()}::timestamptz, ${t.authorizationExpiresAt.toISOString()}::timestamptz
      WHERE ${pending} < ${maxPending}
      ON CONFLICT (sender_user_id, idempotency_key) DO NOTHING
      RETURNING *`);
    if (inserted) return { transfer: inserted, created: true };
    // Not inserted: the key names a transfer already (a concurrent retry), or the sender is at the cap.
    const existing = await transferByKey(tx, t.senderUserId, t.idempotencyKey);
    if (existing) return { transfer: existing, created: false };
    const count = await tx.oneFirst(sql.type(z.object({ pending: z.number() }))`SELECT ${pending}::int AS pending`);
    throw new DomainError('RATE_LIMIT_EXCEEDED', `You have ${count} transfers waiting for authorization; confirm or cancel one first`, {
      pending_transfers: count,
      max_pending_transfers: maxPending,
    });
  });
}

const InitiationRow = WalletRow.extend({
  used_day: z.bigint(),
  used_month: z.bigint(),
  existing_transfer_id: z.string().nullable(),
  biometric: z.boolean(),
  pin: z.boolean(),
  otp: z.boolean(),
  recipient_wallet_id: z.string().nullable(),
  recipient_status: z.enum(WALLET_STATUSES).nullable(),
  recipient_currency: z.string().transform((c) => c.trim() as Currency).nullable(),
  recipient_requires_acceptance: z.boolean().nullable(),
});

export interface InitiationFacts {
  sender: Wallet;
  /** What left the sender's wallet today and this month (the limits' usage). */
  used: { day: bigint; month: bigint };
  /** The transfer the sender's idempotency key names already, if any. */
  existingTransferId: string | null;
  /** The proofs the sender has set up. */
  enrolled: { biometric: boolean; pin: boolean; otp: boolean };
  recipient: { walletId: string; status: WalletStatus; currency: Currency; requiresAcceptance: boolean } | null;
}

/**
 * Everything an initiate checks before it writes, in one statement: the sender's wallet with its
 * usage, the transfer the idempotency key already names, the sender's proofs, and the recipient's
 * wallet. Null when the sender has no wallet.
 */
export async function initiationFacts(db: DatabaseConnection, senderUserId: string, recipientUserId: string, idempotencyKey: string): Promise<InitiationFacts | null> {
  const row = await db.maybeOne(sql.type(InitiationRow)`
    SELECT ${walletColumns('s')}, u.day AS used_day, u.month AS used_month,
           (SELECT t.id FROM p2p_transfers t WHERE t.sender_user_id = s.user_id AND t.idempotency_key = ${idempotencyKey}) AS existing_transfer_id,
           ${enrolledMethodsOf(sql.identifier(['s', 'user_id']))},
           r.id AS recipient_wallet_id, r.status AS recipient_status, r.currency AS recipient_currency,
           r.require_p2p_acceptance AS recipient_requires_acceptance
    FROM wallets s
    CROSS JOIN LATERAL wallet_spent(s.id, s.currency) u
    LEFT JOIN wallets r ON r.user_id = ${recipientUserId}
    WHERE s.user_id = ${senderUserId}`);
  if (!row) return null;
  const { used_day, used_month, existing_transfer_id, biometric, pin, otp, recipient_wallet_id, recipient_status, recipient_currency, recipient_requires_acceptance, ...sender } = row;
  return {
    sender,
    used: { day: used_day, month: used_month },
    existingTransferId: existing_transfer_id,
    enrolled: { biometric, pin, otp },
    recipient:
      recipient_wallet_id && recipient_status && recipient_currency
        ? { walletId: recipient_wallet_id, status: recipient_status, currency: recipient_currency, requiresAcceptance: recipient_requires_acceptance ?? false }
        : null,
  };
}

/**
 * Transfers still waiting for authorization although their window closed before `before`, a page
 * at a time in id order: `after` is the last id of the previous page. (Ids, not timestamps: a
 * JavaScript Date drops PostgreSQL's microseconds, so a time cursor would find its own row again.)
 */
export function overdueTransfers(db: DatabaseConnection, before: Date, limit: number, after?: string): Promise<readonly Transfer[]> {
  return db.any(sql.type(TransferRow)`
    SELECT * FROM p2p_transfers
    WHERE status = 'pending_authorization' AND authorization_expires_at < ${before.toISOString()}::timestamptz
      ${after ? sql.fragment`AND id > ${after}` : sql.fragment``}
    ORDER BY id LIMIT ${limit}`);
}

export function transferByKey(db: DatabaseConnection, senderUserId: string, idempotencyKey: string): Promise<Transfer | null> {
  return db.maybeOne(sql.type(TransferRow)`
    SELECT * FROM p2p_transfers WHERE sender_user_id = ${senderUserId} AND idempotency_key = ${idempotencyKey}`);
}

export function transferById(db: DatabaseConnection, id: string, lock = false): Promise<Transfer | null> {
  return db.maybeOne(sql.type(TransferRow)`
    SELECT * FROM p2p_transfers WHERE id = ${id} ${lock ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

const TIMESTAMP_COLUMN: Partial<Record<P2PState, string>> = {
  completed: 'completed_at',
  rejected: 'rejected_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
  auth_failed: 'cancelled_at',
};

export interface StatusChange {
  status: P2PState;
  /** Only from these states: a retried activity finds the row already moved and changes nothing. */
  from: readonly P2PState[];
  reason?: string;
  authMethod?: string;
  authAttempts?: number;
  confirmed?: boolean;
  acceptanceExpiresAt?: string;
}

/** Moves a transfer to a new status; returns the row as it is afterwards (moved or not). */
export async function changeTransferStatus(db: DatabaseConnection, id: string, change: StatusChange): Promise<Transfer> {
  const stamp = TIMESTAMP_COLUMN[change.status];
  const sets = [
    sql.fragment`status = ${change.status}`,
    sql.fragment`updated_at = now()`,
    ...(stamp ? [sql.fragment`${sql.identifier([stamp])} = now()`] : []),
    ...(change.reason !== undefined ? [sql.fragment`status_reason = ${change.reason}`] : []),
    ...(change.authMethod !== undefined ? [sql.fragment`auth_method = ${change.authMethod}`] : []),
    ...(change.authAttempts !== undefined ? [sql.fragment`auth_attempts = ${change.authAttempts}`] : []),
    ...(change.confirmed ? [sql.fragment`confirmed_at = now()`] : []),
    ...(change.acceptanceExpiresAt !== undefined
      ? [sql.fragment`acceptance_expires_at = ${change.acceptanceExpiresAt}::timestamptz`]
      : []),
  ];
  const moved = await db.maybeOne(sql.type(TransferRow)`
    UPDATE p2p_transfers SET ${sql.join(sets, sql.fragment`, `)}
    WHERE id = ${id} AND status = ANY(${sql.array([...change.from], 'text')})
    RETURNING *`);
  if (moved) return moved;
  const current = await transferById(db, id);
  if (!current) throw new Error(`transfer ${id} does not exist`);
  return current;
}

/** Counts a refusal answered for the transfer, once per value seen (concurrent identical calls count one). */
export async function countFailedCall(db: DatabaseConnection, id: string, seen: number): Promise<void> {
  await db.query(sql.unsafe`UPDATE p2p_transfers SET failed_calls = failed_calls + 1 WHERE id = ${id} AND failed_calls = ${seen}`);
}

export async function setAuthAttempts(db: DatabaseConnection, id: string, attempts: number): Promise<void> {
  await db.query(sql.unsafe`UPDATE p2p_transfers SET auth_attempts = greatest(auth_attempts, ${attempts}), updated_at = now() WHERE id = ${id}`);
}

/** Writes the outcome of a room event: its id, or why the homeserver refused it. */
export async function recordTransferEvent(
  db: DatabaseConnection,
  id: string,
  slot: 'transfer' | 'status',
  outcome: { eventId?: string; error?: string },
): Promise<void> {
  const [idColumn, errorColumn] = slot === 'transfer' ? ['event_id', 'event_error'] : ['status_event_id', 'status_event_error'];
  await db.query(sql.unsafe`
    UPDATE p2p_transfers
    SET ${sql.identifier([idColumn])} = coalesce(${outcome.eventId ?? null}, ${sql.identifier([idColumn])}),
        ${sql.identifier([errorColumn])} = ${outcome.error ?? null}, updated_at = now()
    WHERE id = ${id}`);
}
