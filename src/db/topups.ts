import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import type { DatabaseConnection } from './pool';

export const TOPUP_STATUSES = ['pending', 'succeeded', 'failed', 'expired'] as const;
export type TopUpState = (typeof TOPUP_STATUSES)[number];

export const TopUpRow = z.object({
  id: z.string(),
  user_id: z.string(),
  wallet_id: z.string(),
  client_id: z.string().nullable(),
  provider: z.string(),
  provider_ref: z.string().nullable(),
  checkout_url: z.string().nullable(),
  client_secret: z.string().nullable(),
  amount: z.bigint(),
  currency: z.string().transform((c) => c.trim() as Currency),
  status: z.enum(TOPUP_STATUSES),
  status_reason: z.string().nullable(),
  room_id: z.string().nullable(),
  idempotency_key: z.string(),
  request_hash: z.string(),
  txn_id: z.string().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  finished_at: z.date().nullable(),
});
export type TopUp = z.infer<typeof TopUpRow>;

export interface NewTopUp {
  id: string;
  userId: string;
  walletId: string;
  clientId: string | null;
  provider: string;
  amount: bigint;
  currency: Currency;
  roomId?: string;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Inserts the top-up, or answers the one stored under the same user and idempotency key. */
export async function insertTopUp(db: DatabaseConnection, t: NewTopUp): Promise<{ topUp: TopUp; created: boolean }> {
  const inserted = await db.maybeOne(sql.type(TopUpRow)`
    INSERT INTO topups (id, user_id, wallet_id, client_id, provider, amount, currency, room_id, idempotency_key, request_hash, created_at, expires_at)
    VALUES (${t.id}, ${t.userId}, ${t.walletId}, ${t.clientId}, ${t.provider}, ${t.amount}, ${t.currency}, ${t.roomId ?? null},
            ${t.idempotencyKey}, ${t.requestHash}, ${t.createdAt.toISOString()}, ${t.expiresAt.toISOString()})
    ON CONFLICT (user_id, idempotency_key) DO NOTHING
    RETURNING *`);
  if (inserted) return { topUp: inserted, created: true };
  return { topUp: (await topUpByKey(db, t.userId, t.idempotencyKey))!, created: false };
}

export function topUpByKey(db: DatabaseConnection, userId: string, key: string): Promise<TopUp | null> {
  return db.maybeOne(sql.type(TopUpRow)`SELECT * FROM topups WHERE user_id = ${userId} AND idempotency_key = ${key}`);
}

export function topUpById(db: DatabaseConnection, id: string, forUpdate = false): Promise<TopUp | null> {
  return db.maybeOne(sql.type(TopUpRow)`SELECT * FROM topups WHERE id = ${id} ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

export function topUpByProviderRef(db: DatabaseConnection, provider: string, providerRef: string): Promise<TopUp | null> {
  return db.maybeOne(sql.type(TopUpRow)`SELECT * FROM topups WHERE provider = ${provider} AND provider_ref = ${providerRef}`);
}

/** What the provider answered to the checkout: kept once (a retried step writes the same). */
export async function recordCheckout(db: DatabaseConnection, id: string, c: { providerRef: string; checkoutUrl?: string; clientSecret?: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE topups SET provider_ref = ${c.providerRef}, checkout_url = ${c.checkoutUrl ?? null}, client_secret = ${c.clientSecret ?? null}
    WHERE id = ${id} AND (provider_ref IS NULL OR provider_ref = ${c.providerRef})`);
}

/** Ends a pending top-up; answers the row as it stands (an ended one is left as it ended). */
export async function finishTopUp(db: DatabaseConnection, id: string, change: { status: Exclude<TopUpState, 'pending'>; reason?: string; txnId?: string }): Promise<TopUp> {
  const row = await db.maybeOne(sql.type(TopUpRow)`
    UPDATE topups SET status = ${change.status}, status_reason = ${change.reason ?? null}, txn_id = ${change.txnId ?? null}, finished_at = now()
    WHERE id = ${id} AND status = 'pending' RETURNING *`);
  return row ?? (await topUpById(db, id))!;
}

/** Remembers a provider callback by its event id; false when it was seen before. */
export async function firstSightOfEvent(db: DatabaseConnection, provider: string, eventId: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ event_id: z.string() }))`
    INSERT INTO provider_events (provider, event_id) VALUES (${provider}, ${eventId}) ON CONFLICT DO NOTHING RETURNING event_id`);
  return row !== null;
}
