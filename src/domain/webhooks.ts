/**
 * Webhook delivery rules (PROTO 9.1.2), shared by the delivery workflow and its activity.
 */

/** Waits between attempts: the first attempt at once, then one after each of these (PROTO 9.1.2's schedule). */
export const WEBHOOK_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 300_000] as const;

export type AttemptOutcome =
  | { outcome: 'delivered'; httpStatus: number }
  /** Final: the endpoint refused the event (400, 401, other 4xx), or it has no webhook URL any more. */
  | { outcome: 'failed'; httpStatus?: number; error: string }
  /** Worth another attempt: 429, 5xx, a timeout or a network error. */
  | { outcome: 'retry'; httpStatus?: number; error: string; retryAfterMs?: number };

/** PROTO 9.1.2's table: 2xx delivered; 429 and 5xx retried; any other answer (400, 401, 3xx, ...) ends the delivery. */
export function classifyWebhookAnswer(status: number): 'delivered' | 'retry' | 'failed' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status >= 500) return 'retry';
  return 'failed';
}

export const webhookWorkflowId = (eventId: string) => `webhook-${eventId}`;
