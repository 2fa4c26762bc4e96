import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/** `scope.revoked` (PROTO 5.6, 9.1.2): the mini-app's backend hears of a revocation by a signed webhook, delivered by a workflow. */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
let worker: TestWorker;
let receiver: WebhookReceiver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  receiver = await startWebhookReceiver();
  const taskQueue = uniqueTaskQueue('webhooks');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { ...stubMatrixEnv(hs, 'webhooks'), TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await receiver?.close();
  await hs?.close();
  await db?.close();
});

/** PROTO Appendix D's verifier, verbatim, run by Python: what a receiver written from the document does. */
const APPENDIX_D = `
import hmac
import hashlib

def verify_webhook(payload, signature, secret):
    expected = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)

import json, sys
args = json.load(sys.stdin)
print(json.dumps(verify_webhook(args["payload"], args["signature"], args["secret"])))
`;

function appendixD(payload: string, signature: string, secret: string): boolean {
  return JSON.parse(execFileSync('python3', ['-c', APPENDIX_D], { input: JSON.stringify({ payload, signature, secret }) }).toString()) as boolean;
}

type Verifier = (rawBody: string, header: string, secret: string, nowSeconds?: number) => boolean;

/** The webhook verifier the README shows receivers, taken from the README itself. */
function readmeVerifier(): Verifier {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const code = /```js\n([\s\S]*?function verifyTmcpWebhook[\s\S]*?)```/.exec(readme)![1]!;
  return new Function('require', `${code}\nreturn verifyTmcpWebhook;`)(require) as Verifier;
}

const EventRow = z.object({ event: z.string(), status: z.string(), attempts: z.number(), last_status: z.number().nullable() });
const eventRow = (eventId: string) => db.pool.one(sql.type(EventRow)`SELECT event, status, attempts, last_status FROM webhook_events WHERE event_id = ${eventId}`);

/** A hybrid app with a webhook, a user holding a session of it, and the app's webhook secret. */
async function appWithUser(name: string) {
  const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
    token: ADMIN_TOKEN,
    body: { name, client_type: 'hybrid', scopes: ['user:read', 'wallet:balance'], pre_approved_scopes: ['user:read'], webhook_url: receiver.url },
  })).body as { client_id: string; webhook_secret: string };
  const user = stubSession(hs, name);
  const exchanged = await api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: user.token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', client_id: app.client_id }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(exchanged.status).toBe(200);
  return { app, user };
}


test('a revocation is announced to the backend, signed as PROTO says and over time and body, once', async () => {
  const { app, user } = await appWithUser('hooked');
  // What the app keeps for the user goes with its access (PROTO 10.3.8).
  const storageToken = await api.token(user.userId, ['storage:read', 'storage:write'], app.client_id);
  expect((await api.call('PUT', '/api/v1/storage/progress', { token: storageToken, body: { value: 'level 3' } })).status).toBe(200);
  const before = receiver.received.length;
  const revoked = await api.call('POST', '/api/v1/auth/revoke', { token: user.token, body: { client_id: app.client_id } });
  expect(revoked.status).toBe(200);
  const kept = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM storage_entries WHERE client_id = ${app.client_id} AND user_id = ${user.userId}`);
  expect(kept).toBe(0);
  await eventually(async () => receiver.received.length, (n) => n > before);
  const hook = receiver.received[before]!;
  const body = JSON.parse(hook.body);
  expect(body).toEqual({
    event: 'scope.revoked',
    event_id: expect.stringMatching(/^evt_/),
    timestamp: expect.any(String),
    data: { user_id: user.userId, revoked_scopes: ['user:read'], timestamp: revoked.body.revoked_at },
  });
  expect(hook.headers['x-webhook-event-id']).toBe(body.event_id);
  const timestamp = Number(hook.headers['x-webhook-timestamp']);
  expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(30);
  // PROTO Appendix D's check, as written (Python): the HMAC of the body.
  expect(appendixD(hook.body, String(hook.headers['x-webhook-signature']), app.webhook_secret)).toBe(true);
  expect(appendixD(hook.body.replace('scope.revoked', 'scope.granted'), String(hook.headers['x-webhook-signature']), app.webhook_secret)).toBe(false);
  const hmac = (text: string) => createHmac('sha256', app.webhook_secret).update(text).digest('hex');
  expect(hook.headers['x-webhook-signature']).toBe(`sha256=${hmac(hook.body)}`);
  // Ours, which also covers the time.
  expect(hook.headers['x-tmcp-signature']).toBe(`t=${timestamp},v1=${hmac(`${timestamp}.${hook.body}`)}`);
  // The README's verifier, as printed there: accepts the delivery, refuses it replayed 10 minutes later or altered.
  const verify = readmeVerifier();
  const header = String(hook.headers['x-tmcp-signature']);
  expect(verify(hook.body, header, app.webhook_secret)).toBe(true);
  expect(verify(hook.body, header, app.webhook_secret, timestamp + 600)).toBe(false);
  expect(verify(hook.body.replace('scope.revoked', 'scope.granted'), header, app.webhook_secret)).toBe(false);
  expect(verify(hook.body, header, 'another secret')).toBe(false);
  expect(await eventually(() => eventRow(body.event_id), (r) => r.status === 'delivered')).toMatchObject({ event: 'scope.revoked', status: 'delivered', attempts: 1, last_status: 200 });

  // Nothing left to revoke: nobody is told again.
  expect((await api.call('POST', '/api/v1/auth/revoke', { token: user.token, body: { client_id: app.client_id } })).body.revoked_sessions).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  expect(receiver.received.length).toBe(before + 1);
});

test('a 503 is retried after a second; a 400 ends the delivery at once', async () => {
  const first = await appWithUser('flaky');
  receiver.answer(503);
  const before = receiver.received.length;
  await api.call('POST', '/api/v1/auth/revoke', { token: first.user.token, body: { client_id: first.app.client_id } });
  await eventually(async () => receiver.received.length, (n) => n >= before + 2, 10_000);
  const retried = receiver.received.slice(before);
  expect(retried).toHaveLength(2);
  expect(retried[1]!.at - retried[0]!.at).toBeGreaterThanOrEqual(900);
  const eventId = String(retried[0]!.headers['x-webhook-event-id']);
  expect(retried[1]!.headers['x-webhook-event-id']).toBe(eventId);
  expect(await eventually(() => eventRow(eventId), (r) => r.status === 'delivered')).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });

  const second = await appWithUser('refusing');
  receiver.answer(400);
  const mark = receiver.received.length;
  await api.call('POST', '/api/v1/auth/revoke', { token: second.user.token, body: { client_id: second.app.client_id } });
  await eventually(async () => receiver.received.length, (n) => n > mark);
  const refusedId = String(receiver.received[mark]!.headers['x-webhook-event-id']);
  expect(await eventually(() => eventRow(refusedId), (r) => r.status !== 'pending')).toMatchObject({ status: 'failed', attempts: 1, last_status: 400 });
  await new Promise((r) => setTimeout(r, 1500));
  expect(receiver.received.length).toBe(mark + 1);
});

test('a rotated webhook secret: the new one answered once, both sign during the overlap', async () => {
  const { app, user } = await appWithUser('rotating');
  const rotated = await api.call('POST', `/api/v1/admin/mini-apps/${app.client_id}/webhook-secret`, { token: ADMIN_TOKEN });
  expect(rotated.status).toBe(200);
  expect(rotated.headers.get('cache-control')).toBe('no-store');
  expect(rotated.body).toMatchObject({ client_id: app.client_id, webhook_secret: expect.stringMatching(/^whsec_/), previous_secret_valid_until: expect.any(String) });
  const fresh = rotated.body.webhook_secret as string;
  expect(fresh).not.toBe(app.webhook_secret);

  const before = receiver.received.length;
  await api.call('POST', '/api/v1/auth/revoke', { token: user.token, body: { client_id: app.client_id } });
  await eventually(async () => receiver.received.length, (count) => count > before);
  const hook = receiver.received[before]!;
  const header = String(hook.headers['x-tmcp-signature']);
  expect(header.match(/v1=/g)).toHaveLength(2);
  const verify = readmeVerifier();
  expect(verify(hook.body, header, fresh)).toBe(true);
  expect(verify(hook.body, header, app.webhook_secret)).toBe(true);
  expect(verify(hook.body, header, 'neither')).toBe(false);
  expect(hook.headers['x-webhook-signature']).toBe(`sha256=${createHmac('sha256', fresh).update(hook.body).digest('hex')}`);

  const plain = (await api.call('POST', '/api/v1/admin/mini-apps', { token: ADMIN_TOKEN, body: { name: 'No hooks', client_type: 'public', scopes: ['user:read'] } })).body;
  expect((await api.call('POST', `/api/v1/admin/mini-apps/${plain.client_id}/webhook-secret`, { token: ADMIN_TOKEN })).status).toBe(400);
});
