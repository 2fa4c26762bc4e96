import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

/**
 * Queues an event for the client's backend, in the caller's transaction: to `url` when given (a
 * payment's callback_url), else to the app's webhook URL; nothing when there is neither, or when
 * the app has no webhook secret to sign with. Answers the event id, if queued.
 */
export async function queueWebhookEvent(
  db: DatabaseConnection,
  event: { eventId: string; clientId: string; event: string; data: Record<string, unknown>; url?: string | null },
): Promise<string | null> {
  return db.maybeOneFirst(sql.type(z.object({ event_id: z.string() }))`
    INSERT INTO webhook_events (event_id, client_id, event, data, url)
    SELECT ${event.eventId}, client_id, ${event.event}, ${sql.jsonb(event.data as never)}, ${event.url ?? null}
    FROM miniapps WHERE client_id = ${event.clientId} AND coalesce(${event.url ?? null}, webhook_url) IS NOT NULL AND sealed_webhook_secret IS NOT NULL
    RETURNING event_id`);
}

export async function markWebhookStarted(db: DatabaseConnection, eventId: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE webhook_events SET started_at = coalesce(started_at, now()) WHERE event_id = ${eventId}`);
}

/** Events whose delivery did not start after commit (Temporal down, a process stopped). */
export function unstartedWebhookEvents(db: DatabaseConnection, queuedBefore: Date, limit: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ event_id: z.string() }))`
    SELECT event_id FROM webhook_events WHERE started_at IS NULL AND created_at < ${queuedBefore.toISOString()}::timestamptz
    ORDER BY created_at LIMIT ${limit}`);
}

const DeliveryRow = z.object({
  event_id: z.string(),
  client_id: z.string(),
  event: z.string(),
  data: z.record(z.unknown()),
  created_at: z.date(),
  status: z.enum(['pending', 'delivered', 'failed']),
  webhook_url: z.string().nullable(),
  sealed_webhook_secret: z.string().nullable(),
  /** The secret before the last rotation, while it still signs. */
  sealed_previous_webhook_secret: z.string().nullable(),
});
export type WebhookDelivery = z.infer<typeof DeliveryRow>;

/** An event with where and how to deliver it (the app's current webhook URL and sealed secret). */
export function webhookDelivery(db: DatabaseConnection, eventId: string): Promise<WebhookDelivery | null> {
  return db.maybeOne(sql.type(DeliveryRow)`
    SELECT e.event_id, e.client_id, e.event, e.data, e.created_at, e.status, coalesce(e.url, m.webhook_url) AS webhook_url, m.sealed_webhook_secret,
      CASE WHEN m.previous_webhook_secret_until > now() THEN m.sealed_previous_webhook_secret END AS sealed_previous_webhook_secret
    FROM webhook_events e JOIN miniapps m ON m.client_id = e.client_id WHERE e.event_id = ${eventId}`);
}

/** Records attempt number `attempt.number` in the log and on the event (idempotent); `final` ends the delivery as delivered or failed. */
export async function recordWebhookAttempt(
  db: DatabaseConnection,
  eventId: string,
  attempt: { number: number; at: Date; durationMs: number; httpStatus?: number; error?: string; final?: 'delivered' | 'failed' },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO webhook_attempts (event_id, attempt, attempted_at, http_status, duration_ms, error)
    VALUES (${eventId}, ${attempt.number}, ${attempt.at.toISOString()}, ${attempt.httpStatus ?? null}, ${Math.round(attempt.durationMs)}, ${attempt.error ?? null})
    ON CONFLICT (event_id, attempt) DO NOTHING`);
  await db.query(sql.unsafe`
    UPDATE webhook_events
    SET attempts = greatest(attempts, ${attempt.number}), last_status = ${attempt.httpStatus ?? null}, last_error = ${attempt.error ?? null},
        status = ${attempt.final ?? 'pending'}, finished_at = ${attempt.final ? sql.fragment`now()` : sql.fragment`NULL`}
    WHERE event_id = ${eventId} AND status = 'pending'`);
}

const EventLogRow = z.object({
  event_id: z.string(),
  event: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  created_at: z.date(),
  finished_at: z.date().nullable(),
  attempts: z.array(z.object({ attempt: z.number(), attempted_at: z.string(), http_status: z.number().nullable(), duration_ms: z.number(), error: z.string().nullable() })),
});
export type WebhookEventLog = z.infer<typeof EventLogRow>;

const LOG_COLUMNS = sql.fragment`
    e.event_id, e.event, e.status, e.created_at, e.finished_at,
      coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'attempted_at', to_char(a.attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                                  'http_status', a.http_status, 'duration_ms', a.duration_ms, 'error', a.error) ORDER BY a.attempt)
                FROM webhook_attempts a WHERE a.event_id = e.event_id), '[]'::json) AS attempts`;

/** The webhook events of a payment with every attempt, oldest first. */
export function webhookLogOfPayment(db: DatabaseConnection, paymentId: string): Promise<readonly WebhookEventLog[]> {
  return db.any(sql.type(EventLogRow)`
    SELECT ${LOG_COLUMNS} FROM webhook_events e WHERE e.data ->> 'payment_id' = ${paymentId} ORDER BY e.created_at, e.event_id`);
}

/** A mini-app's latest webhook events (every kind) with every attempt, newest first. */
export function webhookLogOfApp(db: DatabaseConnection, clientId: string, limit: number): Promise<readonly WebhookEventLog[]> {
  return db.any(sql.type(EventLogRow)`
    SELECT ${LOG_COLUMNS} FROM webhook_events e WHERE e.client_id = ${clientId} ORDER BY e.created_at DESC, e.event_id DESC LIMIT ${limit}`);
}

/**
 * Opens a finished event for one more delivery: pending again, the next redelivery number. Answers
 * that number and the attempt to number from; null when there is no such finished event of the payment.
 */
export function reopenWebhookEvent(db: DatabaseConnection, eventId: string, paymentId: string) {
  return db.maybeOne(sql.type(z.object({ redeliveries: z.number(), attempts: z.number() }))`
    UPDATE webhook_events SET status = 'pending', finished_at = NULL, redeliveries = redeliveries + 1
    WHERE event_id = ${eventId} AND data ->> 'payment_id' = ${paymentId} AND status <> 'pending'
    RETURNING redeliveries, attempts`);
}

export function webhookEventStatus(db: DatabaseConnection, eventId: string, paymentId: string) {
  return db.maybeOneFirst(sql.type(z.object({ status: z.string() }))`
    SELECT status FROM webhook_events WHERE event_id = ${eventId} AND data ->> 'payment_id' = ${paymentId}`);
}
