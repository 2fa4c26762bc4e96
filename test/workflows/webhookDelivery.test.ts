import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../src/config';
import { queueWebhookEvent } from '../../src/db/webhooks';
import { webhookRetryDelay, webhookWorkflowId } from '../../src/domain/webhooks';
import { newId } from '../../src/ids';
import { createMiniapp, webhookSealer } from '../../src/miniapps/admin';
import { startWebhookDeliveries, sweepUnstartedWebhooks, type WebhookStarterDeps } from '../../src/miniapps/webhookStarter';
import { TEST_DATA_KEY } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { TMCP_CLIENT_ID, TMCP_STATUS } from '../../src/domain/searchAttributes';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver';
import { webhookActivities } from '../../activities/webhooks';
import type { Resolver } from '../../src/miniapps/destinations';

/** The delivery workflow's whole schedule on the time-skipping server: 24 hours of retries pass in moments. */
let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: TestDatabase;
let receiver: WebhookReceiver;
let deps: WebhookStarterDeps;
let clientId: string;
beforeAll(async () => {
  stack = await startTimeSkippingStack('webhook-schedule');
  ({ env, db } = stack);
  receiver = await startWebhookReceiver();
  deps = { pool: db.pool, log: pino({ level: 'silent' }), temporal: stack.temporal };
  const config = loadConfig({ NODE_ENV: 'test' });
  const created = await createMiniapp(
    { pool: db.pool, config, webhookSealer: webhookSealer(Buffer.from(TEST_DATA_KEY, 'hex')) },
    { name: 'Backend', clientType: 'hybrid', redirectUris: [], scopes: ['user:read'], preApprovedScopes: [], webhookUrl: receiver.url, firstParty: false },
  );
  clientId = String(created.client_id);
}, 120_000);
afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
});

const Attempt = z.object({ attempt: z.number(), http_status: z.number().nullable(), duration_ms: z.number(), error: z.string().nullable() });
const attempts = (eventId: string) => db.pool.any(sql.type(Attempt)`SELECT attempt, http_status, duration_ms, error FROM webhook_attempts WHERE event_id = ${eventId} ORDER BY attempt`);

const Row = z.object({ status: z.string(), attempts: z.number(), last_status: z.number().nullable(), started: z.boolean() });
const row = (eventId: string) => db.pool.one(sql.type(Row)`SELECT status, attempts, last_status, started_at IS NOT NULL AS started FROM webhook_events WHERE event_id = ${eventId}`);

async function queued(createdSecondsAgo = 0): Promise<string> {
  const eventId = newId('webhookEvent');
  await queueWebhookEvent(db.pool, { eventId, clientId, event: 'scope.revoked', data: { user_id: '@u:tmcp.test', revoked_scopes: ['user:read'], timestamp: new Date().toISOString() } });
  if (createdSecondsAgo) await db.pool.query(sql.unsafe`UPDATE webhook_events SET created_at = now() - ${createdSecondsAgo} * interval '1 second' WHERE event_id = ${eventId}`);
  return eventId;
}

test('an endpoint that keeps failing is retried on PROTO\'s schedule, then with growing waits for 24 hours, every attempt logged', async () => {
  const eventId = await queued();
  receiver.answer(500, 502, 503, 429);
  receiver.answerOtherwise(500);
  const before = receiver.received.length;
  try {
    expect(await startWebhookDeliveries(deps, [eventId])).toBe(1);
    const handle = env.client.workflow.getHandle(webhookWorkflowId(eventId));
    expect(await handle.result()).toBe('failed');
  } finally {
    receiver.answerOtherwise(200);
  }
  const expected: number[] = [];
  for (let elapsed = 0, i = 0; ; i += 1) {
    const wait = webhookRetryDelay(i, elapsed);
    if (wait === undefined) break;
    expected.push(wait / 1000);
    elapsed += wait;
  }
  expect(expected.slice(0, 7)).toEqual([1, 5, 30, 120, 300, 600, 1200]);
  expect(expected.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(86_400);
  const history = await env.client.workflow.getHandle(webhookWorkflowId(eventId)).fetchHistory();
  const timers = (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : []));
  expect(timers).toEqual(expected);
  expect(receiver.received.length - before).toBe(expected.length + 1);
  expect(await row(eventId)).toEqual({ status: 'failed', attempts: expected.length + 1, last_status: 500, started: true });
  const log = await attempts(eventId);
  expect(log.map((a) => a.attempt)).toEqual(Array.from({ length: expected.length + 1 }, (_, i) => i + 1));
  expect(log.slice(0, 4).map((a) => a.http_status)).toEqual([500, 502, 503, 429]);
  expect(log.every((a) => a.duration_ms >= 0 && a.error?.startsWith('answered'))).toBe(true);
  // An operator finds it among the app's failed deliveries: TmcpClientId = '<app>' AND TmcpStatus = 'failed'.
  const attributes = (await env.client.workflow.getHandle(webhookWorkflowId(eventId)).describe()).typedSearchAttributes;
  expect([attributes.get(TMCP_CLIENT_ID), attributes.get(TMCP_STATUS)]).toEqual([clientId, 'failed']);
  await recordHistory(env.client, webhookWorkflowId(eventId), 'webhook', 'failed');
});

test('the sweeper starts a delivery left in the outbox; starting it twice delivers once', async () => {
  const eventId = await queued(60);
  const before = receiver.received.length;
  expect(await sweepUnstartedWebhooks(deps, 10_000)).toBe(1);
  expect(await startWebhookDeliveries(deps, [eventId])).toBe(1); // the same workflow
  expect(await env.client.workflow.getHandle(webhookWorkflowId(eventId)).result()).toBe('delivered');
  expect(receiver.received.length - before).toBe(1);
  expect(await row(eventId)).toEqual({ status: 'delivered', attempts: 1, last_status: 200, started: true });
  expect(await sweepUnstartedWebhooks(deps, 10_000)).toBe(0);
  const attributes = (await env.client.workflow.getHandle(webhookWorkflowId(eventId)).describe()).typedSearchAttributes;
  expect([attributes.get(TMCP_CLIENT_ID), attributes.get(TMCP_STATUS)]).toEqual([clientId, 'delivered']);
  await recordHistory(env.client, webhookWorkflowId(eventId), 'webhook', 'delivered');
});

test('a backend that is down for a while gets every event once it is back, each attempt logged', async () => {
  const events = [await queued(), await queued(), await queued()];
  receiver.answerOtherwise(503);
  try {
    expect(await startWebhookDeliveries(deps, events)).toBe(3);
    // Down for the first 40 s of workflow time: the 1 s, 5 s and 30 s retries all meet a 503.
    await env.sleep(40_000);
  } finally {
    receiver.answerOtherwise(200);
  }
  for (const eventId of events) expect(await env.client.workflow.getHandle(webhookWorkflowId(eventId)).result()).toBe('delivered');
  for (const eventId of events) {
    const log = await attempts(eventId);
    expect(log.length).toBeGreaterThanOrEqual(4);
    expect(log.slice(0, -1).every((a) => a.http_status === 503)).toBe(true);
    expect(log.at(-1)).toMatchObject({ http_status: 200, error: null });
    expect(await row(eventId)).toMatchObject({ status: 'delivered', last_status: 200 });
    const got = receiver.received.filter((r) => r.headers['x-webhook-event-id'] === eventId);
    expect(got).toHaveLength(log.length);
  }
});

test("a Retry-After of a billion seconds waits only for what is left of the 24 hours, then the last attempt", async () => {
  const eventId = await queued();
  receiver.answer({ status: 429, headers: { 'retry-after': '1000000000' } });
  receiver.answerOtherwise(503);
  try {
    expect(await startWebhookDeliveries(deps, [eventId])).toBe(1);
    expect(await env.client.workflow.getHandle(webhookWorkflowId(eventId)).result()).toBe('failed');
  } finally {
    receiver.answerOtherwise(200);
  }
  const history = await env.client.workflow.getHandle(webhookWorkflowId(eventId)).fetchHistory();
  const timers = (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : []));
  // One wait, capped at the horizon (24 h less the moment the first attempt took), then the last attempt.
  expect(timers).toHaveLength(1);
  expect(timers[0]).toBeGreaterThan(86_000);
  expect(timers[0]).toBeLessThanOrEqual(86_400);
  expect((await attempts(eventId)).map((a) => a.http_status)).toEqual([429, 503]);
  await recordHistory(env.client, webhookWorkflowId(eventId), 'webhook', 'retry-after-capped');
});

test('in production no webhook reaches a private, loopback or link-local address, however its name resolves', async () => {
  const config = loadConfig({ NODE_ENV: 'test', WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: 'false' });
  const sealer = webhookSealer(Buffer.from(TEST_DATA_KEY, 'hex'));
  // Refused at registration when the address is written in the URL.
  for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'https://169.254.169.254/latest', 'https://10.1.2.3/x', 'https://[::1]/x', 'https://[::ffff:127.0.0.1]/x']) {
    await expect(createMiniapp({ pool: db.pool, config, webhookSealer: sealer }, { name: 'Sneaky', clientType: 'confidential', redirectUris: [], scopes: ['user:read'], preApprovedScopes: [], webhookUrl: url, firstParty: false })).rejects.toMatchObject({ code: 'INVALID_REQUEST', details: { field: 'webhook_url' } });
  }
  // A name that resolves to loopback passes registration and is refused at delivery: one attempt, failed, nothing sent.
  const created = await createMiniapp({ pool: db.pool, config: loadConfig({ NODE_ENV: 'test' }), webhookSealer: sealer }, { name: 'Rebinder', clientType: 'confidential', redirectUris: [], scopes: ['user:read'], preApprovedScopes: [], webhookUrl: receiver.url.replace('127.0.0.1', 'rebind.example'), firstParty: false });
  const eventId = newId('webhookEvent');
  await queueWebhookEvent(db.pool, { eventId, clientId: String(created.client_id), event: 'scope.revoked', data: {} });
  // The app's DNS answers loopback for its name (a stub resolver; the HTTP client and socket are real).
  const rebinding: Resolver = (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
  const strict = webhookActivities({ pool: db.pool, webhookSealer: sealer, now: () => new Date(), allowPrivateDestinations: false, resolve: rebinding });
  const before = receiver.received.length;
  const outcome = await strict.deliverWebhook({ eventId, attempt: 1, last: false });
  expect(outcome).toMatchObject({ outcome: 'failed', error: expect.stringContaining('not a public address') });
  expect(receiver.received.length).toBe(before);
  expect(await row(eventId)).toMatchObject({ status: 'failed', attempts: 1 });
});
