import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { WEBHOOK_RETRY_DELAYS_MS } from '../src/domain/webhooks';

// An attempt that cannot even run (the database is down) is retried by Temporal; answers from the
// mini-app's endpoint are outcomes, and this workflow keeps PROTO's schedule for them.
const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Delivers one webhook event to the mini-app's backend, at least once (PROTO 9.1.2): signed,
 * retried on 429, 5xx and network errors after 1 s, 5 s, 30 s, 2 min and 5 min, and given up
 * after that, or at once when the endpoint refuses the event. Every attempt is logged on the event.
 */
export async function webhookDelivery(input: { eventId: string }): Promise<'delivered' | 'failed'> {
  for (let attempt = 1; ; attempt += 1) {
    const last = attempt > WEBHOOK_RETRY_DELAYS_MS.length;
    const result = await deliverWebhook({ eventId: input.eventId, attempt, last });
    if (result.outcome !== 'retry') return result.outcome;
    // A 429's Retry-After is honoured when it asks for longer than the schedule.
    await sleep(Math.max(WEBHOOK_RETRY_DELAYS_MS[attempt - 1]!, result.retryAfterMs ?? 0));
  }
}
