import { patched, proxyActivities, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { clientAttribute, TMCP_STATUS } from '../src/domain/searchAttributes';
import { WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_RETRY_HORIZON_MS, webhookRetryDelay, type AttemptResult } from '../src/domain/webhooks';
import { workflowNow } from './clock';

// An attempt that cannot even run (the database is down) is retried by Temporal; answers from the
// mini-app's endpoint are outcomes, and this workflow keeps the schedule for them.
const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** v2: after PROTO's five retries, more with growing waits for up to 24 hours (v1 gave up after the five). */
const WEBHOOK_V2 = 'webhook-v2-retry-for-24-hours';
/** v3: a Retry-After is honoured only up to what is left of the 24 hours (a billion seconds parked a delivery for years). */
const WEBHOOK_V3 = 'webhook-v3-retry-after-within-horizon';
/** v4: operators filter deliveries by mini-app and state (TmcpClientId, TmcpStatus: retrying, delivered, failed). */
const WEBHOOK_V4 = 'webhook-v4-search-attributes';

/**
 * Delivers one webhook event to the mini-app's backend, at least once (PROTO 9.1.2): signed,
 * retried on 429, 5xx and network errors after 1 s, 5 s, 30 s, 2 min and 5 min, then with growing
 * waits for up to 24 hours, and given up after that, or at once when the endpoint refuses the
 * event. Every attempt is logged. A redelivery asked for by the merchant numbers its attempts on
 * from the event's last one (`firstAttempt`).
 */
export async function webhookDelivery(input: { eventId: string; firstAttempt?: number }): Promise<'delivered' | 'failed'> {
  const v2 = patched(WEBHOOK_V2);
  const v3 = patched(WEBHOOK_V3);
  const v4 = patched(WEBHOOK_V4);
  let published: string | undefined;
  const publish = (result: AttemptResult, status: string) => {
    if (!v4 || status === published) return;
    upsertSearchAttributes([{ key: TMCP_STATUS, value: status }, ...(published === undefined ? clientAttribute(result.clientId) : [])]);
    published = status;
  };
  const startedAt = workflowNow();
  const first = input.firstAttempt ?? 1;
  for (let retry = 0; ; retry += 1) {
    const wait = v2 ? webhookRetryDelay(retry, workflowNow() - startedAt) : WEBHOOK_RETRY_DELAYS_MS[retry];
    const result = await deliverWebhook({ eventId: input.eventId, attempt: first + retry, last: wait === undefined });
    if (result.outcome !== 'retry') {
      publish(result, result.outcome);
      return result.outcome;
    }
    publish(result, 'retrying');
    // A 429's Retry-After is honoured when it asks for longer than the schedule, up to the horizon.
    const retryAfterMs = v3 ? Math.min(result.retryAfterMs ?? 0, Math.max(0, WEBHOOK_RETRY_HORIZON_MS - (workflowNow() - startedAt))) : (result.retryAfterMs ?? 0);
    await sleep(Math.max(wait!, retryAfterMs));
  }
}
