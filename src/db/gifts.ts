import { sql } from 'slonik';
import { z } from 'zod';
import { CURRENCIES, type Currency } from '../domain/money';
import { GIFT_STATES } from '../domain/gifts';
import type { DatabaseConnection } from './pool';

const GiftRow = z.object({
  id: z.string(),
  type: z.enum(['individual', 'group']),
  sender_user_id: z.string(),
  sender_wallet_id: z.string(),
  recipient_user_id: z.string().nullable(),
  room_id: z.string(),
  currency: z.enum(Object.keys(CURRENCIES) as [Currency, ...Currency[]]),
  total_amount: z.bigint(),
  count: z.number(),
  distribution: z.enum(['equal', 'random']),
  message: z.string().nullable(),
  status: z.enum(GIFT_STATES),
  status_reason: z.string().nullable(),
  remaining_count: z.number(),
  remaining_amount: z.bigint(),
  refunded_amount: z.bigint(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  response: z.record(z.unknown()).nullable(),
  event_id: z.string().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  finished_at: z.date().nullable(),
  client_id: z.string().nullable(),
});
export type Gift = z.infer<typeof GiftRow>;

const COLUMNS = sql.fragment`
  id, type, sender_user_id, sender_wallet_id, recipient_user_id, room_id, currency, total_amount, count, distribution, message,
  status, status_reason, remaining_count, remaining_amount, refunded_amount, idempotency_key, request_hash, response, event_id, created_at, expires_at, finished_at, client_id`;

export async function insertGift(
  db: DatabaseConnection,
  g: { id: string; type: 'individual' | 'group'; senderUserId: string; senderWalletId: string; recipientUserId?: string; roomId: string; currency: Currency; total: bigint; count: number; distribution: 'equal' | 'random'; message?: string; idempotencyKey: string; requestHash: string; expiresAt: Date; clientId: string },
): Promise<{ gift: Gift; created: boolean }> {
  const row = await db.maybeOne(sql.type(GiftRow)`
    INSERT INTO gifts (id, type, sender_user_id, sender_wallet_id, recipient_user_id, room_id, currency, total_amount, count, distribution, message,
                       status, remaining_count, remaining_amount, idempotency_key, request_hash, expires_at, client_id)
    VALUES (${g.id}, ${g.type}, ${g.senderUserId}, ${g.senderWalletId}, ${g.recipientUserId ?? null}, ${g.roomId}, ${g.currency}, ${g.total.toString()},
            ${g.count}, ${g.distribution}, ${g.message ?? null}, 'pending', ${g.count}, ${g.total.toString()}, ${g.idempotencyKey}, ${g.requestHash},
            ${g.expiresAt.toISOString()}, ${g.clientId})
    ON CONFLICT (sender_user_id, idempotency_key) DO NOTHING
    RETURNING ${COLUMNS}`);
  if (row) return { gift: row, created: true };
  return { gift: (await giftByKey(db, g.senderUserId, g.idempotencyKey))!, created: false };
}

export function giftByKey(db: DatabaseConnection, senderUserId: string, idempotencyKey: string) {
  return db.maybeOne(sql.type(GiftRow)`SELECT ${COLUMNS} FROM gifts WHERE sender_user_id = ${senderUserId} AND idempotency_key = ${idempotencyKey}`);
}

export function giftById(db: DatabaseConnection, giftId: string, lock = false) {
  return db.maybeOne(sql.type(GiftRow)`SELECT ${COLUMNS} FROM gifts WHERE id = ${giftId} ${lock ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

export async function setGiftStatus(db: DatabaseConnection, giftId: string, change: { status: Gift['status']; reason?: string; finished?: boolean }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE gifts SET status = ${change.status}, status_reason = coalesce(${change.reason ?? null}, status_reason)
      ${change.finished ? sql.fragment`, finished_at = coalesce(finished_at, now())` : sql.fragment``}
    WHERE id = ${giftId}`);
}

export async function storeGiftResponse(db: DatabaseConnection, giftId: string, response: Record<string, unknown>, eventId: string | undefined): Promise<void> {
  await db.query(sql.unsafe`UPDATE gifts SET response = ${sql.json(response as never)}, event_id = coalesce(${eventId ?? null}, event_id) WHERE id = ${giftId}`);
}

const OpeningRow = z.object({ user_id: z.string(), amount: z.bigint(), rank: z.number(), opened_at: z.date(), txn_id: z.string() });
export type OpeningRow = z.infer<typeof OpeningRow>;

export function openingsOf(db: DatabaseConnection, giftId: string) {
  return db.any(sql.type(OpeningRow)`SELECT user_id, amount, rank, opened_at, txn_id FROM gift_openings WHERE gift_id = ${giftId} ORDER BY rank`);
}

export function openingOf(db: DatabaseConnection, giftId: string, userId: string) {
  return db.maybeOne(sql.type(OpeningRow)`SELECT user_id, amount, rank, opened_at, txn_id FROM gift_openings WHERE gift_id = ${giftId} AND user_id = ${userId}`);
}

/** The openings these users made of the gift, if any (a batch's repeats). */
export function openingsBy(db: DatabaseConnection, giftId: string, userIds: readonly string[]) {
  return db.any(sql.type(OpeningRow)`
    SELECT user_id, amount, rank, opened_at, txn_id FROM gift_openings WHERE gift_id = ${giftId} AND user_id = ANY(${sql.array(userIds, 'text')})`);
}

export async function insertOpening(db: DatabaseConnection, o: { giftId: string; userId: string; walletId: string; amount: bigint; rank: number; txnId: string }): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO gift_openings (gift_id, user_id, wallet_id, amount, rank, txn_id)
    VALUES (${o.giftId}, ${o.userId}, ${o.walletId}, ${o.amount.toString()}, ${o.rank}, ${o.txnId})`);
}

/** One share taken: the counts go down; the last one makes the gift fully_opened. */
export async function takeShare(db: DatabaseConnection, giftId: string, amount: bigint): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE gifts SET remaining_count = remaining_count - 1, remaining_amount = remaining_amount - ${amount.toString()},
      status = CASE WHEN remaining_count = 1 THEN 'fully_opened' ELSE status END,
      finished_at = CASE WHEN remaining_count = 1 THEN now() ELSE finished_at END
    WHERE id = ${giftId}`);
}

export async function markGiftExpired(db: DatabaseConnection, giftId: string, refunded: bigint): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE gifts SET status = 'expired', refunded_amount = ${refunded.toString()}, remaining_amount = 0, finished_at = coalesce(finished_at, now())
    WHERE id = ${giftId}`);
}

/** Gifts still waiting to be funded long after creation, for the sweeper (their start never ran). */
export function staleGifts(db: DatabaseConnection, before: Date, limit: number) {
  return db.any(sql.type(GiftRow)`
    SELECT ${COLUMNS} FROM gifts WHERE status IN ('pending', 'active') AND expires_at < ${before.toISOString()}::timestamptz ORDER BY expires_at LIMIT ${limit}`);
}
