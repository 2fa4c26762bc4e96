/**
 * Webhook delivery rules (PROTO 9.1.2), shared by the delivery workflow and its activity.
 */

/** Waits between attempts: the first attempt at once, then one after each of these (PROTO 9.1.2's schedule). */
export const WEBHOOK_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 300_000] as const;

/** After PROTO's schedule, further attempts with growing waits (10 min, doubling, at most 2 h) for up to 24 h. */
const LATER_FIRST_MS = 10 * 60_000;
const LATER_MAX_MS = 2 * 3_600_000;
export const WEBHOOK_RETRY_HORIZON_MS = 24 * 3_600_000;

/**
 * The wait before retry number `index` (0: after the first attempt), or undefined when the delivery
 * gives up: PROTO's five waits, then growing ones while the next attempt stays within 24 hours of
 * the first.
 */
export function webhookRetryDelay(index: number, elapsedMs: number): number | undefined {
  const delay = index < WEBHOOK_RETRY_DELAYS_MS.length ? WEBHOOK_RETRY_DELAYS_MS[index]! : Math.min(LATER_FIRST_MS * 2 ** (index - WEBHOOK_RETRY_DELAYS_MS.length), LATER_MAX_MS);
  return elapsedMs + delay > WEBHOOK_RETRY_HORIZON_MS ? undefined : delay;
}

export type AttemptOutcome =
  | { outcome: 'delivered'; httpStatus: number }
  /** Final: the endpoint refused the event (400, 401, other 4xx), or it has no webhook URL any more. */
  | { outcome: 'failed'; httpStatus?: number; error: string }
  /** Worth another attempt: 429, 5xx, a timeout or a network error. */
  | { outcome: 'retry'; httpStatus?: number; error: string; retryAfterMs?: number };

/** An attempt's outcome as the delivery workflow gets it, with the mini-app the event is for (its TmcpClientId). */
export type AttemptResult = AttemptOutcome & { clientId?: string };

/** PROTO 9.1.2's table: 2xx delivered; 429 and 5xx retried; any other answer (400, 401, 3xx, ...) ends the delivery. */
export function classifyWebhookAnswer(status: number): 'delivered' | 'retry' | 'failed' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status >= 500) return 'retry';
  return 'failed';
}

/** The delivery workflow of an event; a redelivery (n > 0) is a workflow of its own. */
export const webhookWorkflowId = (eventId: string, redelivery = 0) => (redelivery > 0 ? `webhook-${eventId}-r${redelivery}` : `webhook-${eventId}`);
