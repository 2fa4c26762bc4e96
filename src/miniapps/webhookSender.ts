import { createHmac } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { Sealer } from '../crypto/sealing';
import type { WebhookDelivery } from '../db/webhooks';
import { classifyWebhookAnswer, type AttemptOutcome } from '../domain/webhooks';
import { DestinationRefused, literalDestinationRefusal } from './destinations';

/** The worker's side of webhooks: signing and sending one attempt (the delivery workflow's activity calls it). */

const REQUEST_TIMEOUT_MS = 10_000;

const hmacHex = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');

/**
 * The two signatures of a delivery, under the app's webhook secret. `X-Webhook-Signature` is PROTO
 * 9.1.2's (`sha256=` and the hex HMAC-SHA256 of the body), which the Appendix D verifier checks as
 * written; it does not cover the time, so a captured delivery could be replayed later.
 * `X-TMCP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` ties the time to the
 * body, so a receiver can refuse a delivery older than a few minutes.
 */
export function webhookSignatures(secret: string, timestamp: number, body: string, previousSecret?: string): { 'x-webhook-signature': string; 'x-tmcp-signature': string } {
  // During a rotation the previous secret signs too: a second v1= entry, after the new one's.
  const v1 = [secret, ...(previousSecret ? [previousSecret] : [])].map((s) => `v1=${hmacHex(s, `${timestamp}.${body}`)}`);
  return {
    'x-webhook-signature': `sha256=${hmacHex(secret, body)}`,
    'x-tmcp-signature': [`t=${timestamp}`, ...v1].join(','),
  };
}

/**
 * One attempt to deliver an event: a signed POST of PROTO 9.1.2's body, no redirects followed,
 * through `dispatcher` (which refuses private destinations in production). A destination refused
 * as private ends the delivery: no later attempt would be allowed either.
 */
export async function attemptWebhook(delivery: WebhookDelivery, sealer: Sealer, now: () => Date, dispatcher: Dispatcher, allowPrivate: boolean): Promise<AttemptOutcome> {
  if (!delivery.webhook_url || !delivery.sealed_webhook_secret) return { outcome: 'failed', error: 'the mini-app has no webhook URL any more' };
  const refusal = allowPrivate ? undefined : literalDestinationRefusal(new URL(delivery.webhook_url));
  if (refusal) return { outcome: 'failed', error: `destination refused: ${refusal}` };
  const secret = sealer.open(delivery.sealed_webhook_secret, delivery.client_id);
  const previous = delivery.sealed_previous_webhook_secret ? sealer.open(delivery.sealed_previous_webhook_secret, delivery.client_id) : undefined;
  const body = JSON.stringify({ event: delivery.event, event_id: delivery.event_id, timestamp: delivery.created_at.toISOString(), data: delivery.data });
  const timestamp = Math.floor(now().getTime() / 1000);
  let status: number;
  let retryAfter: string | string[] | undefined;
  try {
    const res = await request(delivery.webhook_url, {
      method: 'POST',
      dispatcher,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'TMCP-Webhooks/1',
        ...webhookSignatures(secret, timestamp, body, previous),
        'x-webhook-event-id': delivery.event_id,
        'x-webhook-timestamp': String(timestamp),
      },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.body.dump().catch(() => undefined);
    status = res.statusCode;
    retryAfter = res.headers['retry-after'];
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof DestinationRefused ? err.cause : err;
    if (cause instanceof DestinationRefused) return { outcome: 'failed', error: `destination refused: ${cause.message}` };
    return { outcome: 'retry', error: `not reached: ${err instanceof Error ? err.message : String(err)}` };
  }
  const verdict = classifyWebhookAnswer(status);
  if (verdict === 'delivered') return { outcome: 'delivered', httpStatus: status };
  const error = `answered ${status}`;
  if (verdict === 'failed') return { outcome: 'failed', httpStatus: status, error };
  return { outcome: 'retry', httpStatus: status, error, ...(typeof retryAfter === 'string' && /^\d{1,12}$/.test(retryAfter) ? { retryAfterMs: Number(retryAfter) * 1000 } : {}) };
}

