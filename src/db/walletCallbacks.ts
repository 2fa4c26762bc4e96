import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

const CallbackRow = z.object({ transaction_id: z.string(), provider: z.string(), event: z.string(), room_id: z.string(), event_id: z.string().nullable() });

/** Claims a transaction's event: the new row, or null when the transaction was reported before. */
export function claimWalletCallback(db: DatabaseConnection, c: { transactionId: string; provider: string; event: string; roomId: string; roomEvent: { type: string; content: Record<string, unknown> } }) {
  return db.maybeOne(sql.type(CallbackRow)`
    INSERT INTO wallet_callback_events (transaction_id, provider, event, room_id, room_event)
    VALUES (${c.transactionId}, ${c.provider}, ${c.event}, ${c.roomId}, ${sql.jsonb(c.roomEvent as never)})
    ON CONFLICT (provider, transaction_id) DO NOTHING
    RETURNING transaction_id, provider, event, room_id, event_id`);
}

export function walletCallbackById(db: DatabaseConnection, provider: string, transactionId: string) {
  return db.maybeOne(sql.type(CallbackRow)`
    SELECT transaction_id, provider, event, room_id, event_id FROM wallet_callback_events WHERE provider = ${provider} AND transaction_id = ${transactionId}`);
}

export async function recordWalletCallbackEvent(db: DatabaseConnection, provider: string, transactionId: string, outcome: { eventId?: string; error?: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE wallet_callback_events SET event_id = coalesce(${outcome.eventId ?? null}, event_id), event_error = ${outcome.error ?? null}
    WHERE provider = ${provider} AND transaction_id = ${transactionId}`);
}

/** Reported payments whose room event never started (the start after the claim failed), from the last week. */
export function unsentWalletCallbacks(db: DatabaseConnection, createdBefore: Date, limit: number) {
  return db.any(sql.type(z.object({ provider: z.string(), transaction_id: z.string(), room_id: z.string(), room_event: z.object({ type: z.string(), content: z.record(z.unknown()) }) }))`
    SELECT provider, transaction_id, room_id, room_event FROM wallet_callback_events
    WHERE event_id IS NULL AND event_error IS NULL AND created_at < ${createdBefore.toISOString()}::timestamptz AND created_at > now() - interval '7 days'
    ORDER BY created_at LIMIT ${limit}`);
}
