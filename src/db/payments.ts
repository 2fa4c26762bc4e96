import { sql } from 'slonik';
import { z } from 'zod';
import { CURRENCIES, type Currency } from '../domain/money';
import { PAYMENT_STATES, type PaymentState } from '../domain/payments';
import type { DatabaseConnection } from './pool';

const PaymentRow = z.object({
  id: z.string(),
  payer_user_id: z.string(),
  payer_wallet_id: z.string(),
  client_id: z.string(),
  amount: z.bigint(),
  currency: z.enum(Object.keys(CURRENCIES) as [Currency, ...Currency[]]),
  description: z.string(),
  merchant_order_id: z.string().nullable(),
  items: z.array(z.record(z.unknown())).nullable(),
  callback_url: z.string().nullable(),
  room_id: z.string().nullable(),
  status: z.enum(PAYMENT_STATES),
  status_reason: z.string().nullable(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  request_response: z.record(z.unknown()),
  auth_method: z.string().nullable(),
  auth_device_id: z.string().nullable(),
  failed_calls: z.number(),
  txn_id: z.string().nullable(),
  refunded_amount: z.bigint(),
  event_id: z.string().nullable(),
  event_error: z.string().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  authorized_at: z.date().nullable(),
  completed_at: z.date().nullable(),
  failed_at: z.date().nullable(),
  expired_at: z.date().nullable(),
  cancelled_at: z.date().nullable(),
});
export type Payment = z.infer<typeof PaymentRow>;

const COLUMNS = sql.fragment`
  id, payer_user_id, payer_wallet_id, client_id, amount, currency, description, merchant_order_id, items, callback_url,
  room_id, status, status_reason, idempotency_key, request_hash, request_response, auth_method, auth_device_id, failed_calls, txn_id, refunded_amount, event_id,
  event_error, created_at, expires_at, authorized_at, completed_at, failed_at, expired_at, cancelled_at`;

export interface NewPayment {
  id: string;
  payerUserId: string;
  payerWalletId: string;
  clientId: string;
  amount: bigint;
  currency: Currency;
  description: string;
  merchantOrderId?: string;
  items?: Record<string, unknown>[];
  callbackUrl?: string;
  roomId?: string;
  idempotencyKey: string;
  requestHash: string;
  response: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
}

/** Inserts a payment; a concurrent request with the same key gets the row that won (`created: false`). */
export async function insertPayment(db: DatabaseConnection, p: NewPayment): Promise<{ payment: Payment; created: boolean }> {
  const inserted = await db.maybeOne(sql.type(PaymentRow)`
    INSERT INTO payments (id, payer_user_id, payer_wallet_id, client_id, amount, currency, description, merchant_order_id, items,
                          callback_url, room_id, status, idempotency_key, request_hash, request_response, created_at, updated_at, expires_at)
    VALUES (${p.id}, ${p.payerUserId}, ${p.payerWalletId}, ${p.clientId}, ${p.amount.toString()}, ${p.currency}, ${p.description},
            ${p.merchantOrderId ?? null}, ${p.items ? sql.jsonb(p.items as never) : null}, ${p.callbackUrl ?? null}, ${p.roomId ?? null},
            'pending_authorization', ${p.idempotencyKey}, ${p.requestHash}, ${sql.json(p.response as never)},
            ${p.createdAt.toISOString()}, ${p.createdAt.toISOString()}, ${p.expiresAt.toISOString()})
    ON CONFLICT (client_id, payer_user_id, idempotency_key) DO NOTHING
    RETURNING ${COLUMNS}`);
  if (inserted) return { payment: inserted, created: true };
  return { payment: (await paymentByKey(db, p.clientId, p.payerUserId, p.idempotencyKey))!, created: false };
}

export function paymentByKey(db: DatabaseConnection, clientId: string, payerUserId: string, idempotencyKey: string) {
  return db.maybeOne(sql.type(PaymentRow)`
    SELECT ${COLUMNS} FROM payments WHERE client_id = ${clientId} AND payer_user_id = ${payerUserId} AND idempotency_key = ${idempotencyKey}`);
}

export function paymentById(db: DatabaseConnection, paymentId: string, lock = false) {
  return db.maybeOne(sql.type(PaymentRow)`
    SELECT ${COLUMNS} FROM payments WHERE id = ${paymentId} ${lock ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

const STAMPS: Partial<Record<PaymentState, string>> = { completed: 'completed_at', failed: 'failed_at', expired: 'expired_at', cancelled: 'cancelled_at' };

/** Moves a payment from one of `from` to `status`, stamping the time; null when it was not in one of them. */
export function changePaymentStatus(
  db: DatabaseConnection,
  paymentId: string,
  change: { status: PaymentState; from: readonly PaymentState[]; reason?: string; authMethod?: string; txnId?: string; authorized?: boolean },
) {
  const stamp = STAMPS[change.status];
  return db.maybeOne(sql.type(PaymentRow)`
    UPDATE payments SET status = ${change.status}, updated_at = now(),
      status_reason = coalesce(${change.reason ?? null}, status_reason),
      auth_method = coalesce(${change.authMethod ?? null}, auth_method),
      txn_id = coalesce(${change.txnId ?? null}, txn_id)
      ${change.authorized ? sql.fragment`, authorized_at = coalesce(authorized_at, now())` : sql.fragment``}
      ${stamp ? sql.fragment`, ${sql.identifier([stamp])} = now()` : sql.fragment``}
    WHERE id = ${paymentId} AND status = ANY (${sql.array([...change.from], 'text')})
    RETURNING ${COLUMNS}`);
}

export async function recordPaymentEvent(db: DatabaseConnection, paymentId: string, outcome: { eventId?: string; error?: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE payments SET event_id = coalesce(${outcome.eventId ?? null}, event_id), event_error = ${outcome.error ?? null}, updated_at = now()
    WHERE id = ${paymentId}`);
}

/** Records the device whose signature authorized the payment (the second factor must be another). */
export async function recordAuthorizingDevice(db: DatabaseConnection, paymentId: string, deviceId: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE payments SET auth_device_id = ${deviceId} WHERE id = ${paymentId}`);
}

/** Pending payments whose window ended before `before`, for the sweeper (a workflow that never started). */
export function overduePayments(db: DatabaseConnection, before: Date, limit: number): Promise<readonly Payment[]> {
  return db.any(sql.type(PaymentRow)`
    SELECT ${COLUMNS} FROM payments
    WHERE status IN ('pending_authorization', 'mfa_required') AND expires_at < ${before.toISOString()}::timestamptz
    ORDER BY expires_at LIMIT ${limit}`);
}

const RefundRow = z.object({
  id: z.string(),
  payment_id: z.string(),
  amount: z.bigint(),
  reason: z.string().nullable(),
  request_hash: z.string(),
  txn_id: z.string(),
  response: z.record(z.unknown()),
  created_at: z.date(),
});
export type Refund = z.infer<typeof RefundRow>;

export function refundByKey(db: DatabaseConnection, paymentId: string, idempotencyKey: string) {
  return db.maybeOne(sql.type(RefundRow)`
    SELECT id, payment_id, amount, reason, request_hash, txn_id, response, created_at FROM payment_refunds
    WHERE payment_id = ${paymentId} AND idempotency_key = ${idempotencyKey}`);
}

export async function insertRefund(
  db: DatabaseConnection,
  r: { id: string; paymentId: string; amount: bigint; reason?: string; requestedBy: string; idempotencyKey: string; requestHash: string; txnId: string; response: Record<string, unknown> },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO payment_refunds (id, payment_id, amount, reason, requested_by, idempotency_key, request_hash, txn_id, response)
    VALUES (${r.id}, ${r.paymentId}, ${r.amount.toString()}, ${r.reason ?? null}, ${r.requestedBy}, ${r.idempotencyKey}, ${r.requestHash}, ${r.txnId}, ${sql.json(r.response as never)})`);
}

/** Adds a refund to the payment's refunded amount; its status follows (partially_refunded, refunded). */
export async function addRefunded(db: DatabaseConnection, paymentId: string, amount: bigint): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE payments SET refunded_amount = refunded_amount + ${amount.toString()}, updated_at = now(),
      status = CASE WHEN refunded_amount + ${amount.toString()} = amount THEN 'refunded' ELSE 'partially_refunded' END
    WHERE id = ${paymentId}`);
}

export async function recordRefundEvent(db: DatabaseConnection, refundId: string, outcome: { eventId?: string; error?: string }): Promise<void> {
  await db.query(sql.unsafe`UPDATE payment_refunds SET event_id = coalesce(${outcome.eventId ?? null}, event_id), event_error = ${outcome.error ?? null} WHERE id = ${refundId}`);
}

/** Refunds of payments in a room whose announcement never ran (the start after commit failed), from the last week. */
export function unannouncedRefunds(db: DatabaseConnection, createdBefore: Date, limit: number) {
  return db.any(sql.type(z.object({ id: z.string(), payment_id: z.string() }))`
    SELECT r.id, r.payment_id FROM payment_refunds r JOIN payments p ON p.id = r.payment_id
    WHERE p.room_id IS NOT NULL AND r.event_id IS NULL AND r.event_error IS NULL
      AND r.created_at < ${createdBefore.toISOString()}::timestamptz AND r.created_at > now() - interval '7 days'
    ORDER BY r.created_at LIMIT ${limit}`);
}

export function refundById(db: DatabaseConnection, refundId: string) {
  return db.maybeOne(sql.type(RefundRow)`
    SELECT id, payment_id, amount, reason, request_hash, txn_id, response, created_at FROM payment_refunds WHERE id = ${refundId}`);
}

/** Counts a refusal the payer was answered, once per refusal seen (concurrent calls count one). */
export async function countPaymentFailedCall(db: DatabaseConnection, id: string, seen: number): Promise<void> {
  await db.query(sql.unsafe`UPDATE payments SET failed_calls = failed_calls + 1 WHERE id = ${id} AND failed_calls = ${seen}`);
}
