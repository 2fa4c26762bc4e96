import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../src/config';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { ALL_WALLET_SCOPES, available, expectError, PIN, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';
import { startWebhookReceiver } from '../helpers/webhookReceiver';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * The payment workflow's clocks on the time-skipping server: the 5-minute authorization window and
 * the 2-minute MFA challenge pass in moments; and the room event of a completed payment.
 */
let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
const ROOM = '!shop:tmcp.test';
beforeAll(async () => {
  hs = await startStubHomeserver();
  const matrixEnv = stubMatrixEnv(hs, 'paytimers');
  stack = await startTimeSkippingStack('payment-timers', {
    matrix: { homeserverUrl: hs.url, asToken: matrixEnv.MATRIX_AS_TOKEN!, serverName: 'tmcp.test' },
    payments: loadConfig({ NODE_ENV: 'test', PAYMENT_MFA_NEW_DEVICE_DAYS: '0' }).payments,
  });
  ({ env, db } = stack);
  api = await startTestApi(db, { ...matrixEnv, TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue }, { temporal: stack.temporal });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.stop();
  await hs?.close();
});

interface Payer extends TestUser {
  key: KeyObject;
  deviceId: string;
}

async function payer(name: string): Promise<Payer> {
  const user = await walletUser(api, { name, fund: '100.00' });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const deviceId = `phone_${name}`;
  const key_data = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  expect((await api.call('POST', '/api/v1/wallet/devices/register', { token: user.messenger, body: { device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data }, ...pinProof() } })).status).toBe(201);
  return { ...user, token: await api.token(user.userId, ALL_WALLET_SCOPES), key: privateKey, deviceId };
}

let n = 0;
async function requested(p: Payer, amount: string, extra: Record<string, unknown> = {}): Promise<string> {
  n += 1;
  const res = await api.call('POST', '/api/v1/payments/request', { token: p.token, body: { amount, currency: 'USD', description: 'Lunch', idempotency_key: `t-${n}`, ...extra } });
  expect(res.status).toBe(201);
  return res.body.payment_id;
}

function authorize(p: Payer, id: string, amount: string) {
  const timestamp = new Date().toISOString();
  const signature = sign('sha256', Buffer.from(`${id}:${amount}:USD:${timestamp}`), { key: p.key, dsaEncoding: 'ieee-p1363' }).toString('base64');
  return api.call('POST', `/api/v1/payments/${id}/authorize`, { token: p.token, body: { signature, device_id: p.deviceId, timestamp } });
}

const status = async (p: Payer, id: string) => (await api.call('GET', `/api/v1/payments/${id}`, { token: p.token })).body.status;

test('a payment nobody authorizes expires after 5 minutes, and nothing moves then or later', async () => {
  const alice = await payer('alice');
  const id = await requested(alice, '10.00');
  await env.sleep(301_000);
  expect(await env.client.workflow.getHandle(`payment-${id}`).result()).toMatchObject({ status: 'expired' });
  expect(await status(alice, id)).toBe('expired');
  expectError(await authorize(alice, id, '10.00'), 409, 'INVALID_STATE');
  expect(await available(api, alice)).toBe(100);
  await recordHistory(env.client, `payment-${id}`, 'payment', 'expired');
});

test('an expired challenge cannot be answered; a new one can, and the payment completes with a room event', async () => {
  const bob = await payer('bob');
  hs.replyFor('joined_members', ROOM, { status: 200, body: { joined: { [bob.userId]: {} } } });
  const id = await requested(bob, '60.00', { room_id: ROOM });
  const asked = await authorize(bob, id, '60.00');
  expect(asked.body.status).toBe('mfa_required');
  const first = asked.body.mfa_challenge.challenge_id;
  await env.sleep(121_000);
  const late = await api.call('POST', `/api/v1/payments/${id}/mfa/verify`, { token: bob.token, body: { challenge_id: first, method: 'transaction_pin', credentials: { pin: PIN } } });
  expectError(late, 400, 'INVALID_REQUEST', 'challenge_id');
  const reissued = await api.call('POST', `/api/v1/payments/${id}/mfa/challenge`, { token: bob.token });
  expect(reissued.status).toBe(200);
  const second = reissued.body.mfa_challenge.challenge_id;
  expect(second).not.toBe(first);
  const done = await api.call('POST', `/api/v1/payments/${id}/mfa/verify`, { token: bob.token, body: { challenge_id: second, method: 'transaction_pin', credentials: { pin: PIN } } });
  expect(done.body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
  expect(await available(api, bob)).toBe(40);

  const result = await env.client.workflow.getHandle(`payment-${id}`).result();
  expect(result).toMatchObject({ status: 'completed', eventId: expect.stringMatching(/^\$stub/) });
  // The request was told to the room first (PROTO 8.1.2), and the receipt refers to it.
  const asking = hs.events().filter((e) => e.roomId === ROOM && e.type === 'm.tween.payment.request' && e.content.payment_id === id);
  expect(asking).toHaveLength(1);
  expect(asking[0]).toMatchObject({ txnId: `payment-${id}.request`, userId: '@_tmcp_payments:tmcp.test' });
  expect(asking[0]!.content).toMatchObject({ miniapp_id: 'ma_demo', payment: { payment_id: id, amount: '60.00', currency: 'USD', description: 'Lunch' }, status: 'pending_authorization' });
  const event = hs.events().find((e) => e.roomId === ROOM && e.type === 'm.tween.payment.completed');
  expect(event).toMatchObject({ txnId: `payment-${id}.completed`, userId: '@_tmcp_payments:tmcp.test' });
  expect(event!.content).toMatchObject({ msgtype: 'm.tween.payment', payment_id: id, amount: '60.00', currency: 'USD', status: 'completed', payer: { user_id: bob.userId } });
  expect(event!.content).toMatchObject({ request_event_id: result.requestEventId, 'm.relates_to': { rel_type: 'm.reference', event_id: result.requestEventId } });
  expect(result.requestEventId).toMatch(/^\$stub/);
  await recordHistory(env.client, `payment-${id}`, 'payment', 'mfa-completed');

  // A refund is told to the same room.
  const refunded = await api.call('POST', `/api/v1/payments/${id}/refund`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { amount: '20.00', idempotency_key: 'goodwill' } });
  expect(refunded.status).toBe(201);
  const refundId = refunded.body.refund_id;
  await env.client.workflow.getHandle(`refund-${refundId}`).result();
  const told = hs.events().find((e) => e.type === 'm.tween.payment.refunded' && e.content.refund_id === refundId);
  expect(told).toMatchObject({ roomId: ROOM, txnId: `refund-${refundId}.refunded` });
  expect(told!.content).toMatchObject({ payment_id: id, amount: '20.00', refunded_amount: '20.00', status: 'partially_refunded' });
  await recordHistory(env.client, `refund-${refundId}`, 'refund', 'announced');
});

test('a payment cancelled by its payer ends at once: the room hears of it, referring to the request, and nothing moves', async () => {
  const dee = await payer('dee');
  const CAFE = '!cafe:tmcp.test';
  hs.replyFor('joined_members', CAFE, { status: 200, body: { joined: { [dee.userId]: {} } } });
  const id = await requested(dee, '15.00', { room_id: CAFE });
  const cancelled = await api.call('POST', `/api/v1/payments/${id}/cancel`, { token: dee.token, body: {} });
  expect(cancelled.body).toMatchObject({ status: 'cancelled' });
  const result = await env.client.workflow.getHandle(`payment-${id}`).result();
  expect(result).toMatchObject({ status: 'cancelled', requestEventId: expect.any(String) });
  const told = hs.events().filter((e) => e.roomId === CAFE && e.content.payment_id === id).map((e) => [e.type, e.txnId]);
  expect(told).toEqual([['m.tween.payment.request', `payment-${id}.request`], ['m.tween.payment.cancelled', `payment-${id}.cancelled`]]);
  const event = hs.events().find((e) => e.type === 'm.tween.payment.cancelled' && e.content.payment_id === id);
  expect(event!.content).toMatchObject({ status: 'cancelled', cancelled_by: 'payer', 'm.relates_to': { rel_type: 'm.reference', event_id: result.requestEventId } });
  expect(await available(api, dee)).toBe(100);
  await recordHistory(env.client, `payment-${id}`, 'payment', 'cancelled');
});

test('a payment without a second factor completes in one step', async () => {
  const carol = await payer('carol');
  const id = await requested(carol, '10.00');
  expect((await authorize(carol, id, '10.00')).body.status).toBe('completed');
  await env.client.workflow.getHandle(`payment-${id}`).result();
  await recordHistory(env.client, `payment-${id}`, 'payment', 'completed');
});

test("a completed payment's webhook is delivered by a child workflow that outlives it", async () => {
  const receiver = await startWebhookReceiver();
  try {
    const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Timer Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'], webhook_url: receiver.url },
    })).body as { client_id: string };
    const erin = await payer('erin');
    const appToken = await api.token(erin.userId, ALL_WALLET_SCOPES, app.client_id);
    const res = await api.call('POST', '/api/v1/payments/request', { token: appToken, body: { amount: '10.00', currency: 'USD', description: 'Cake', idempotency_key: 'hooked' } });
    const id = res.body.payment_id;
    expect((await authorize({ ...erin, token: appToken }, id, '10.00')).body.status).toBe('completed');
    await env.client.workflow.getHandle(`payment-${id}`).result();
    const history = await env.client.workflow.getHandle(`payment-${id}`).fetchHistory();
    const child = history.events?.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    const childId = child?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    expect(childId).toMatch(/^webhook-evt_/);
    expect(await env.client.workflow.getHandle(childId!).result()).toBe('delivered');
    expect(receiver.received.some((r) => JSON.parse(r.body).data?.payment_id === id)).toBe(true);
    await recordHistory(env.client, `payment-${id}`, 'payment', 'completed-webhook');
  } finally {
    await receiver.close();
  }
});

test('refused at capture (the money went elsewhere after the check), the payment waits again and completes after a top-up', async () => {
  const erin = await payer('frida');
  const id = await requested(erin, '60.00');
  const challenge = (await authorize(erin, id, '60.00')).body.mfa_challenge.challenge_id;
  // Meanwhile the payer spends most of the balance on another payment.
  const other = await requested(erin, '45.00');
  expect((await authorize(erin, other, '45.00')).body.status).toBe('completed');
  const answer = () => api.call('POST', `/api/v1/payments/${id}/mfa/verify`, { token: erin.token, body: { challenge_id: challenge, method: 'transaction_pin', credentials: { pin: PIN } } });
  expectError(await answer(), 402, 'INSUFFICIENT_FUNDS');
  expect(await status(erin, id)).toBe('mfa_required');
  await api.call('POST', `/api/v1/admin/wallets/${erin.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '50.00', currency: 'USD', idempotency_key: `top-${erin.walletId}` } });
  expect((await answer()).body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
  expect(await available(api, erin)).toBe(45);
  await env.client.workflow.getHandle(`payment-${id}`).result();
  await recordHistory(env.client, `payment-${id}`, 'payment', 'capture-refused');
});

test('three wrong answers fail the payment', async () => {
  const dave = await payer('dave');
  const id = await requested(dave, '60.00');
  const challenge = (await authorize(dave, id, '60.00')).body.mfa_challenge.challenge_id;
  for (const pin of ['1111', '2222', '3333']) await api.call('POST', `/api/v1/payments/${id}/mfa/verify`, { token: dave.token, body: { challenge_id: challenge, method: 'transaction_pin', credentials: { pin } } });
  expect(await env.client.workflow.getHandle(`payment-${id}`).result()).toMatchObject({ status: 'failed', failureCode: 'MFA_LOCKED' });
  await recordHistory(env.client, `payment-${id}`, 'payment', 'failed');
});
