import { performance } from 'node:perf_hooks';
import type { Sealer } from '../src/crypto/sealing';
import type { DatabasePool } from '../src/db/pool';
import { markWebhookStarted, recordWebhookAttempt, webhookDelivery } from '../src/db/webhooks';
import type { AttemptResult } from '../src/domain/webhooks';
import { webhookDispatcher, type Resolver } from '../src/miniapps/destinations';
import { attemptWebhook } from '../src/miniapps/webhookSender';
import { webhookDeliveries } from '../src/metrics/metrics';

export interface WebhookActivityDeps {
  pool: DatabasePool;
  webhookSealer: Sealer;
  now: () => Date;
  /** WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: loopback and private addresses may be reached (development, tests). */
  allowPrivateDestinations: boolean;
  /** DNS (node's by default). */
  resolve?: Resolver;
}

export function webhookActivities(deps: WebhookActivityDeps) {
  const dispatcher = webhookDispatcher(deps.allowPrivateDestinations, deps.resolve);
  return {
    /**
     * One attempt of the delivery workflow, logged on the event. `last`: a failure worth retrying
     * ends the delivery instead. An event already finished (a retried activity) is not sent again.
     */
    async deliverWebhook(req: { eventId: string; attempt: number; last: boolean }): Promise<AttemptResult> {
      // Started by a workflow (a payment's child) rather than the starter: the sweeper need not start it.
      if (req.attempt === 1) await markWebhookStarted(deps.pool, req.eventId);
      const delivery = await webhookDelivery(deps.pool, req.eventId);
      if (!delivery) return { outcome: 'failed', error: 'no such event' };
      const clientId = delivery.client_id;
      if (delivery.status === 'delivered') return { outcome: 'delivered', httpStatus: 200, clientId };
      if (delivery.status === 'failed') return { outcome: 'failed', error: 'delivery ended earlier', clientId };
      const at = deps.now();
      const started = performance.now();
      const result = await attemptWebhook(delivery, deps.webhookSealer, deps.now, dispatcher, deps.allowPrivateDestinations);
      webhookDeliveries.inc({ result: result.outcome });
      const durationMs = performance.now() - started;
      const final = result.outcome === 'delivered' ? 'delivered' : result.outcome === 'failed' || req.last ? 'failed' : undefined;
      await recordWebhookAttempt(deps.pool, req.eventId, {
        number: req.attempt,
        at,
        durationMs,
        httpStatus: result.httpStatus,
        error: result.outcome === 'delivered' ? undefined : result.error,
        final,
      });
      return final === 'failed' && result.outcome === 'retry' ? { outcome: 'failed', httpStatus: result.httpStatus, error: result.error, clientId } : { ...result, clientId };
    },
  };
}
