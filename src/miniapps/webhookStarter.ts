import { markWebhookStarted, reopenWebhookEvent, unstartedWebhookEvents, webhookEventStatus, webhookLogOfApp, webhookLogOfPayment, type WebhookEventLog } from '../db/webhooks';
import { DomainError } from '../domain/errors';
import type { DatabasePool } from '../db/pool';
import { webhookWorkflowId } from '../domain/webhooks';
import type { Logger } from '../logger';
import { startIdempotently, type Temporal } from '../temporal/client';
import type { webhookDelivery } from '../../workflows/webhookDelivery';

/** The API's side of webhooks: starting delivery workflows, the merchant's log and redelivery. */

export interface WebhookStarterDeps {
  pool: DatabasePool;
  temporal: Temporal;
  log: Logger;
}

/**
 * Starts the delivery workflow of each queued event (after the commit that queued it) and marks it
 * started. A start that fails leaves the event for the sweeper; it never fails the caller.
 */
export async function startWebhookDeliveries(deps: WebhookStarterDeps, eventIds: readonly string[]): Promise<number> {
  let started = 0;
  for (const eventId of eventIds) {
    if (!(await startIdempotently<typeof webhookDelivery>(deps.temporal, deps.log, 'webhookDelivery', { workflowId: webhookWorkflowId(eventId), args: [{ eventId }] }, { event_id: eventId }))) continue;
    await markWebhookStarted(deps.pool, eventId);
    started += 1;
  }
  return started;
}

/** The sweeper's part: events queued more than `graceMs` ago whose delivery never started. */
export async function sweepUnstartedWebhooks(deps: WebhookStarterDeps, graceMs: number): Promise<number> {
  return startWebhookDeliveries(deps, await unstartedWebhookEvents(deps.pool, new Date(Date.now() - graceMs), 100));
}

/** A payment's webhook events and every attempt (time, status, duration, error), for the merchant. */
export async function paymentWebhookLog(deps: Pick<WebhookStarterDeps, 'pool'>, paymentId: string) {
  return { payment_id: paymentId, events: (await webhookLogOfPayment(deps.pool, paymentId)).map(webhookEventView) };
}

/** A mini-app's latest 100 webhook events with their attempts, for its developer. */
export async function appWebhookLog(deps: Pick<WebhookStarterDeps, 'pool'>, clientId: string) {
  return { client_id: clientId, events: (await webhookLogOfApp(deps.pool, clientId, 100)).map(webhookEventView) };
}

function webhookEventView(e: WebhookEventLog) {
  return {
    event_id: e.event_id,
    event: e.event,
    status: e.status,
    created_at: e.created_at.toISOString(),
    ...(e.finished_at ? { finished_at: e.finished_at.toISOString() } : {}),
    attempts: e.attempts,
  };
}

/**
 * Sends an event of the payment once more, on the merchant's request: the event is pending again and
 * a delivery workflow of its own (`webhook-<event_id>-r<n>`) delivers it on the same schedule, its
 * attempts numbered on from the event's last.
 */
export async function redeliverWebhook(deps: WebhookStarterDeps, paymentId: string, eventId: string) {
  const reopened = await reopenWebhookEvent(deps.pool, eventId, paymentId);
  if (!reopened) {
    const status = await webhookEventStatus(deps.pool, eventId, paymentId);
    if (status === 'pending') throw new DomainError('INVALID_STATE', 'The event is still being delivered; ask again once it is delivered or failed', { event_id: eventId, status });
    throw new DomainError('NOT_FOUND', 'No such webhook event of this payment', { event_id: eventId, payment_id: paymentId });
  }
  const workflowId = webhookWorkflowId(eventId, reopened.redeliveries);
  if (!(await startIdempotently<typeof webhookDelivery>(deps.temporal, deps.log, 'webhookDelivery', { workflowId, args: [{ eventId, firstAttempt: reopened.attempts + 1 }] }, { event_id: eventId }))) {
    throw new DomainError('SERVICE_UNAVAILABLE', 'The redelivery could not be started; ask again', { event_id: eventId, retry_after_seconds: 5 });
  }
  deps.log.info({ event_id: eventId, payment_id: paymentId, redelivery: reopened.redeliveries }, 'webhook redelivery started');
  return { event_id: eventId, status: 'pending' as const, redelivery: reopened.redeliveries, workflow_id: workflowId };
}
