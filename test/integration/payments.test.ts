import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { generate } from 'otplib';
import { sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../src/config';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { ALL_WALLET_SCOPES, available, expectError, PIN, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/**
 * Mini-app payments (PROTO 7.3, PROTO-mfa 7.4) through the API and the real worker: request,
 * the payer's signed authorization, a second factor when the policy asks, the ledger entry, the
 * merchant's view and its signed webhook.
 */
let db: TestDatabase;
let api: TestApi;
let worker: TestWorker;
let receiver: WebhookReceiver;
beforeAll(async () => {
  db = await freshDatabase();
  receiver = await startWebhookReceiver();
  const taskQueue = uniqueTaskQueue('payments');
  // Devices registered in a test are new: the new-device rule would ask every payment for a second factor.
  worker = await startTestWorker(db, { taskQueue, payments: loadConfig({ NODE_ENV: 'test', PAYMENT_MFA_NEW_DEVICE_DAYS: '0' }).payments });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await receiver?.close();
  await db?.close();
});

interface Payer extends TestUser {
  key: KeyObject;
  deviceId: string;
  /** The payer's TEP issued to the paying mini-app. */
  appToken: string;
}

/** A funded payer with a PIN and a registered device key, holding a TEP of `clientId`. */
async function payer(name: string, fund = '100.00', clientId = 'ma_demo'): Promise<Payer> {
  const user = await walletUser(api, { name, fund });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const deviceId = `phone_${name}`;
  const registered = await api.call('POST', '/api/v1/wallet/devices/register', {
    token: user.messenger,
    body: { device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...pinProof() },
  });
  expect(registered.status).toBe(201);
  return { ...user, key: privateKey, deviceId, appToken: await api.token(user.userId, ALL_WALLET_SCOPES, clientId) };
}

/** Registers another device key of the payer (proved with the PIN); answers its private key. */
async function secondDevice(p: Payer, deviceId: string): Promise<KeyObject> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const registered = await api.call('POST', '/api/v1/wallet/devices/register', {
    token: p.messenger,
    body: { device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...pinProof() },
  });
  expect(registered.status).toBe(201);
  return privateKey;
}

let n = 0;
function request(p: Payer, body: Record<string, unknown> = {}) {
  n += 1;
  return api.call('POST', '/api/v1/payments/request', {
    token: p.appToken,
    body: { amount: '10.00', currency: 'USD', description: 'Two coffees', merchant_order_id: `ORDER-${n}`, idempotency_key: `pay-${n}-${Date.now()}`, ...body },
  });
}

/** The payer's device signs `${payment_id}:${amount}:${currency}:${timestamp}` (PROTO 7.3.2). */
function authorizeBody(p: Payer, paymentId: string, amount = '10.00', timestamp = new Date().toISOString()) {
  const signature = sign('sha256', Buffer.from(`${paymentId}:${amount}:USD:${timestamp}`), { key: p.key, dsaEncoding: 'ieee-p1363' });
  return { signature: signature.toString('base64'), device_id: p.deviceId, timestamp };
}

const authorize = (p: Payer, paymentId: string, body: unknown) => api.call('POST', `/api/v1/payments/${paymentId}/authorize`, { token: p.appToken, body });
const verify = (p: Payer, paymentId: string, body: unknown) => api.call('POST', `/api/v1/payments/${paymentId}/mfa/verify`, { token: p.appToken, body });

const merchantBalance = (clientId: string) =>
  db.pool.oneFirst(sql.type(z.object({ balance: z.bigint() }))`SELECT coalesce(sum(balance), 0)::bigint AS balance FROM accounts WHERE kind = 'merchant' AND owner = ${clientId} AND currency = 'USD'`);

describe('request', () => {
  it('answers PROTO 7.3.1, once per idempotency key', async () => {
    const alice = await payer('alice');
    const body = { amount: '10.00', currency: 'USD', description: 'Two coffees', items: [{ item_id: 'c1', name: 'Coffee', quantity: 2, unit_price: '5.00' }], idempotency_key: `same-${Date.now()}` };
    const first = await api.call('POST', '/api/v1/payments/request', { token: alice.appToken, body });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      payment_id: expect.stringMatching(/^pay_[a-z2-7]{24}$/),
      status: 'pending_authorization',
      amount: 10,
      currency: 'USD',
      description: 'Two coffees',
      merchant: { miniapp_id: 'ma_demo', name: expect.any(String) },
      authorization_required: true,
      expires_at: expect.any(String),
      created_at: expect.any(String),
    });
    expect(Date.parse(first.body.expires_at) - Date.parse(first.body.created_at)).toBe(300_000);
    const again = await api.call('POST', '/api/v1/payments/request', { token: alice.appToken, body });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expectError(await api.call('POST', '/api/v1/payments/request', { token: alice.appToken, body: { ...body, amount: '11.00', items: undefined } }), 409, 'DUPLICATE_TRANSACTION', 'idempotency_key');
  });

  it('refuses bad input naming the field', async () => {
    const bob = await payer('bob');
    expectError(await request(bob, { items: [{ item_id: 'c1', name: 'Coffee', quantity: 1, unit_price: '5.00' }] }), 400, 'INVALID_REQUEST', 'items');
    expectError(await request(bob, { amount: '1.001' }), 400, 'INVALID_REQUEST', 'amount');
    expectError(await request(bob, { description: '' }), 400, 'INVALID_REQUEST', 'description');
    expectError(await request(bob, { callback_url: 'https://elsewhere.example/hook' }), 400, 'INVALID_REQUEST', 'callback_url');
    expectError(await request(bob, { currency: 'EUR' }), 400, 'CURRENCY_MISMATCH', 'currency');
    expectError(await request(bob, { idempotency_key: undefined }), 400, 'INVALID_REQUEST', 'idempotency_key');
    const noScope = await api.token(bob.userId, ['wallet:balance']);
    expect((await api.call('POST', '/api/v1/payments/request', { token: noScope, body: {} })).status).toBe(403);
  });
});

describe('authorization without a second factor', () => {
  it('completes with one ledger entry payer to merchant, visible to the payer and the merchant only', async () => {
    const carol = await payer('carol');
    const before = await merchantBalance('ma_demo');
    const { body: requested } = await request(carol);
    const done = await authorize(carol, requested.payment_id, authorizeBody(carol, requested.payment_id));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      payment_id: requested.payment_id,
      status: 'completed',
      txn_id: expect.stringMatching(/^txn_/),
      amount: 10,
      payer: { user_id: carol.userId, wallet_id: carol.walletId },
      merchant: { miniapp_id: 'ma_demo' },
      completed_at: expect.any(String),
    });
    expect(await available(api, carol)).toBe(90);
    expect((await merchantBalance('ma_demo')) - before).toBe(1000n);

    const shown = await api.call('GET', `/api/v1/payments/${requested.payment_id}`, { token: carol.appToken });
    expect(shown.body).toMatchObject({ status: 'completed', txn_id: done.body.txn_id, amount: 10 });
    const dave = await payer('dave');
    expectError(await api.call('GET', `/api/v1/payments/${requested.payment_id}`, { token: dave.appToken }), 404, 'NOT_FOUND');
    // The payer's token of another mini-app neither reads nor acts on this app's payment.
    const elsewhere = await api.token(carol.userId, ALL_WALLET_SCOPES, 'ma_shop_001');
    expectError(await api.call('GET', `/api/v1/payments/${requested.payment_id}`, { token: elsewhere }), 404, 'NOT_FOUND');
    expectError(await api.call('POST', `/api/v1/payments/${requested.payment_id}/authorize`, { token: elsewhere, body: authorizeBody(carol, requested.payment_id) }), 404, 'NOT_FOUND');
    // A second authorization of a completed payment moves nothing.
    expectError(await authorize(carol, requested.payment_id, authorizeBody(carol, requested.payment_id)), 409, 'INVALID_STATE');
    expect(await available(api, carol)).toBe(90);
  });

  it('refuses a bad signature, a stale timestamp, another device, and a payer without the funds', async () => {
    const erin = await payer('erin', '5.00');
    const { body: requested } = await request(erin);
    const id = requested.payment_id;
    expectError(await authorize(erin, id, { ...authorizeBody(erin, id), signature: Buffer.alloc(64).toString('base64') }), 401, 'INVALID_SIGNATURE');
    expectError(await authorize(erin, id, authorizeBody(erin, id, '10.00', new Date(Date.now() - 6 * 60_000).toISOString())), 401, 'INVALID_SIGNATURE');
    expectError(await authorize(erin, id, authorizeBody(erin, id, '9.00')), 401, 'INVALID_SIGNATURE');
    expectError(await authorize(erin, id, { ...authorizeBody(erin, id), device_id: 'unknown_phone' }), 400, 'DEVICE_NOT_REGISTERED');
    const broke = await authorize(erin, id, authorizeBody(erin, id));
    expectError(broke, 402, 'INSUFFICIENT_FUNDS');
    expect(broke.body.error.details).toMatchObject({ required_amount: 10, available_balance: 5 });
    // Topped up, the same payment goes through.
    await api.call('POST', `/api/v1/admin/wallets/${erin.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '20.00', currency: 'USD', idempotency_key: `top-${erin.walletId}` } });
    expect((await authorize(erin, id, authorizeBody(erin, id))).body.status).toBe('completed');
    expect(await available(api, erin)).toBe(15);
  });
});

describe('racing payments', () => {
  it('two authorized at once with funds for one: one completes, the other is refused and can be paid after a top-up', async () => {
    const quinn = await payer('quinn', '15.00');
    const a = (await request(quinn)).body.payment_id as string;
    const b = (await request(quinn)).body.payment_id as string;
    const answers = await Promise.all([authorize(quinn, a, authorizeBody(quinn, a)), authorize(quinn, b, authorizeBody(quinn, b))]);
    const statuses = answers.map((r) => (r.status === 200 ? r.body.status : r.body.error.code)).sort();
    expect(statuses).toEqual(['INSUFFICIENT_FUNDS', 'completed']);
    expect(await available(api, quinn)).toBe(5);
    const refused = answers[0]!.status === 200 ? b : a;
    expect((await api.call('GET', `/api/v1/payments/${refused}`, { token: quinn.appToken })).body.status).toBe('pending_authorization');
    await api.call('POST', `/api/v1/admin/wallets/${quinn.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '10.00', currency: 'USD', idempotency_key: `top-${quinn.walletId}` } });
    expect((await authorize(quinn, refused, authorizeBody(quinn, refused))).body.status).toBe('completed');
    expect(await available(api, quinn)).toBe(5);
  });
});

describe('a second factor', () => {
  const mfaPayment = async (who: Payer) => {
    const { body: requested } = await request(who, { amount: '60.00' });
    const asked = await authorize(who, requested.payment_id, authorizeBody(who, requested.payment_id, '60.00'));
    expect(asked.status).toBe(200);
    return { id: requested.payment_id as string, asked: asked.body };
  };

  it('is asked for from the amount threshold, with the methods the payer set up; the right PIN completes it', async () => {
    const frank = await payer('frank');
    const { id, asked } = await mfaPayment(frank);
    expect(asked).toEqual({
      payment_id: id,
      status: 'mfa_required',
      mfa_challenge: {
        challenge_id: expect.stringMatching(/^mfa_/),
        // The device that signed is not offered again: a second factor is a different factor.
        methods: [{ type: 'transaction_pin', enabled: true, display_name: 'Transaction PIN' }],
        required_method: 'any',
        expires_at: expect.any(String),
        max_attempts: 3,
        attempts_remaining: 3,
      },
    });
    const challengeId = asked.mfa_challenge.challenge_id;
    expect(await available(api, frank)).toBe(100);
    const wrong = await verify(frank, id, { challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: '0000' } });
    expectError(wrong, 401, 'INVALID_MFA_CREDENTIALS');
    expect(wrong.body.error.details).toMatchObject({ attempts_remaining: 2, challenge_id: challengeId });
    // PROTO-mfa 7.4.3's failure answer around the error.
    expect(wrong.body).toMatchObject({ payment_id: id, challenge_id: challengeId, status: 'failed', error: { attempts_remaining: 2 }, retry_allowed: true });
    expectError(await verify(frank, id, { challenge_id: 'mfa_other', method: 'transaction_pin', credentials: { pin: PIN } }), 400, 'INVALID_REQUEST', 'challenge_id');
    expectError(await verify(frank, id, { challenge_id: challengeId, method: 'totp', credentials: { code: '123456' } }), 400, 'INVALID_REQUEST', 'method');
    const right = await verify(frank, id, { challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: PIN } });
    expect(right.status).toBe(200);
    expect(right.body).toMatchObject({ payment_id: id, challenge_id: challengeId, status: 'verified', proceed_to_processing: true, payment: { status: 'completed' } });
    expect(await available(api, frank)).toBe(40);
    // The PIN never entered the workflow's history in clear.
    const history = JSON.stringify(await api.temporal.client.workflow.getHandle(`payment-${id}`).fetchHistory());
    expect(history).not.toContain(`"pin":"${PIN}"`);
  });

  it('accepts a TOTP code, once', async () => {
    const pete = await payer('pete', '200.00');
    const enrolled = await api.call('POST', '/api/v1/wallet/totp/enroll', { token: pete.messenger, body: pinProof() });
    expect(enrolled.status).toBe(201);
    const secret = new URL(enrolled.body.otpauth_uri).searchParams.get('secret')!;
    const { id, asked } = await mfaPayment(pete);
    expect(asked.mfa_challenge.methods.map((m: { type: string }) => m.type)).toEqual(['transaction_pin', 'totp']);
    const code = await generate({ secret });
    const ok = await verify(pete, id, { challenge_id: asked.mfa_challenge.challenge_id, method: 'totp', credentials: { code } });
    expect(ok.body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
    // The same code cannot pay twice.
    const second = await mfaPayment(pete);
    expectError(await verify(pete, second.id, { challenge_id: second.asked.mfa_challenge.challenge_id, method: 'totp', credentials: { code } }), 401, 'INVALID_MFA_CREDENTIALS');
  });

  it("accepts a biometric attestation over payment, challenge and time from the payer's other device, never the one that signed", async () => {
    const gina = await payer('gina');
    const tablet = await secondDevice(gina, 'tablet_gina');
    const { id, asked } = await mfaPayment(gina);
    expect(asked.mfa_challenge.methods.map((m: { type: string }) => m.type)).toEqual(['transaction_pin', 'biometric']);
    const challengeId = asked.mfa_challenge.challenge_id;
    const attest = (key: KeyObject, deviceId: string, timestamp = new Date().toISOString()) => ({
      challenge_id: challengeId,
      method: 'biometric',
      credentials: { attestation: sign('sha256', Buffer.from(`${id}:${challengeId}:${timestamp}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64'), device_id: deviceId, timestamp, biometric_type: 'face_recognition' },
    });
    // The device that authorized the payment cannot be its second factor too.
    expectError(await verify(gina, id, attest(gina.key, gina.deviceId)), 400, 'INVALID_REQUEST', 'credentials.device_id');
    expectError(await verify(gina, id, attest(tablet, 'tablet_gina', new Date(Date.now() - 60_000).toISOString())), 401, 'INVALID_SIGNATURE');
    const ok = await verify(gina, id, attest(tablet, 'tablet_gina'));
    expect(ok.body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
  });

  it("is asked for every payment when the payer's wallet says always; only the payer may answer", async () => {
    const nora = await payer('nora');
    const set = await api.call('PUT', '/api/v1/wallet/settings', { token: nora.messenger, body: { require_payment_mfa: true } });
    expect(set.body).toEqual({ wallet_id: nora.walletId, require_p2p_acceptance: false, require_payment_mfa: true });
    const { body: requested } = await request(nora, { amount: '1.00' });
    const id = requested.payment_id;
    const oscar = await payer('oscar');
    expectError(await authorize(oscar, id, authorizeBody(oscar, id, '1.00')), 404, 'NOT_FOUND');
    expectError(await api.call('POST', `/api/v1/payments/${id}/mfa/challenge`, { token: nora.appToken }), 409, 'INVALID_STATE');
    const asked = await authorize(nora, id, authorizeBody(nora, id, '1.00'));
    expect(asked.body.status).toBe('mfa_required');
    const challengeId = asked.body.mfa_challenge.challenge_id;
    expectError(await verify(oscar, id, { challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: PIN } }), 404, 'NOT_FOUND');
    expectError(await api.call('POST', `/api/v1/payments/${id}/mfa/challenge`, { token: oscar.appToken }), 404, 'NOT_FOUND');
    expectError(await verify(nora, id, { challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: '12' } }), 400, 'INVALID_REQUEST', 'credentials.pin');
    expectError(await api.call('POST', '/api/v1/payments/pay_nope/authorize', { token: nora.appToken, body: authorizeBody(nora, id) }), 400, 'INVALID_REQUEST', 'payment_id');
    expect((await verify(nora, id, { challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: PIN } })).body.payment.status).toBe('completed');
  });

  it('fails the payment after the last wrong answer; it never moves money later', async () => {
    const hank = await payer('hank');
    const { id, asked } = await mfaPayment(hank);
    const answer = (pin: string) => verify(hank, id, { challenge_id: asked.mfa_challenge.challenge_id, method: 'transaction_pin', credentials: { pin } });
    expectError(await answer('1111'), 401, 'INVALID_MFA_CREDENTIALS');
    const last = await answer('2222');
    expectError(last, 401, 'INVALID_MFA_CREDENTIALS');
    expect([last.body.status, last.body.error.attempts_remaining, last.body.retry_allowed]).toEqual(['failed', 1, true]);
    expectError(await answer('3333'), 429, 'MFA_LOCKED');
    expectError(await answer(PIN), 409, 'INVALID_STATE');
    const shown = await api.call('GET', `/api/v1/payments/${id}`, { token: hank.appToken });
    expect(shown.body).toMatchObject({ status: 'failed', status_reason: 'MFA_LOCKED' });
    expect(await available(api, hank)).toBe(100);
  });
});

describe("the merchant's backend", () => {
  it('reads its payments with its client credentials and gets a signed payment.completed webhook', async () => {
    const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Hooked Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'], pre_approved_scopes: ['user:read'], webhook_url: receiver.url },
    })).body as { client_id: string; webhook_secret: string; backend: { client_id: string; client_secret: string } };
    const ivy = await payer('ivy', '100.00', app.client_id);
    const { body: requested } = await request(ivy, { callback_url: `${receiver.url}?order=1` });
    const id = requested.payment_id;
    const done = await authorize(ivy, id, authorizeBody(ivy, id));
    expect(done.body.status).toBe('completed');

    const basic = (clientId: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` });
    const seen = await api.call('GET', `/api/v1/payments/${id}`, { headers: basic(app.backend.client_id, app.backend.client_secret) });
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ payment_id: id, status: 'completed', txn_id: done.body.txn_id });
    expect((await api.call('GET', `/api/v1/payments/${id}`, { headers: basic(app.backend.client_id, 'wrong') })).status).toBe(401);
    const other = (await api.call('POST', '/api/v1/admin/mini-apps', { token: ADMIN_TOKEN, body: { name: 'Other Shop', client_type: 'hybrid', scopes: ['user:read'] } })).body;
    expectError(await api.call('GET', `/api/v1/payments/${id}`, { headers: basic(other.backend.client_id, other.backend.client_secret) }), 404, 'NOT_FOUND');

    const hook = await eventually(async () => receiver.received.find((r) => r.body.includes(id)), (r) => r !== undefined);
    const body = JSON.parse(hook!.body);
    expect(body).toMatchObject({ event: 'payment.completed', data: { payment_id: id, transaction_id: done.body.txn_id, amount: 10, currency: 'USD', user_id: ivy.userId, miniapp_id: app.client_id } });
    expect(hook!.headers['x-webhook-signature']).toBe(`sha256=${createHmac('sha256', app.webhook_secret).update(hook!.body).digest('hex')}`);

    // The delivery log, and a redelivery on request.
    const backend = basic(app.backend.client_id, app.backend.client_secret);
    const log = await eventually(async () => (await api.call('GET', `/api/v1/payments/${id}/webhooks`, { headers: backend })).body, (b) => b.events?.[0]?.status === 'delivered');
    expect(log).toEqual({
      payment_id: id,
      events: [{ event_id: body.event_id, event: 'payment.completed', status: 'delivered', created_at: expect.any(String), finished_at: expect.any(String), attempts: [{ attempt: 1, attempted_at: expect.any(String), http_status: 200, duration_ms: expect.any(Number), error: null }] }],
    });
    expect((await api.call('GET', `/api/v1/payments/${id}/webhooks`)).status).toBe(401);
    expectError(await api.call('GET', `/api/v1/payments/${id}/webhooks`, { headers: basic(other.backend.client_id, other.backend.client_secret) }), 404, 'NOT_FOUND');
    const again = await api.call('POST', `/api/v1/payments/${id}/webhooks/${body.event_id}/redeliver`, { headers: backend });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ event_id: body.event_id, status: 'pending', redelivery: 1 });
    await eventually(async () => receiver.received.filter((r) => r.headers['x-webhook-event-id'] === body.event_id).length, (count) => count === 2);
    const relog = await eventually(async () => (await api.call('GET', `/api/v1/payments/${id}/webhooks`, { headers: backend })).body, (b) => b.events[0].attempts.length === 2 && b.events[0].status === 'delivered');
    expect(relog.events[0].attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2]);
    expectError(await api.call('POST', `/api/v1/payments/${id}/webhooks/evt_aaaaaaaaaaaaaaaaaaaaaaaa/redeliver`, { headers: backend }), 404, 'NOT_FOUND');
  });
});

describe('cancellation', () => {
  const basic = (clientId: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` });

  it('by the payer or the merchant before authorization: nothing moves, the app hears payment.cancelled, and it cannot be paid after', async () => {
    const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Fickle Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'], pre_approved_scopes: ['user:read'], webhook_url: receiver.url },
    })).body as { client_id: string; backend: { client_id: string; client_secret: string } };
    const jo = await payer('jo', '100.00', app.client_id);
    const backend = basic(app.backend.client_id, app.backend.client_secret);

    // The payer, through the app.
    const mine = (await request(jo)).body.payment_id as string;
    const cancelled = await api.call('POST', `/api/v1/payments/${mine}/cancel`, { token: jo.appToken, body: { reason: 'changed my mind' } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ payment_id: mine, status: 'cancelled', status_reason: 'CANCELLED_BY_PAYER', cancelled_at: expect.any(String) });
    // Asked again, the same answer; authorizing it now is refused.
    expect((await api.call('POST', `/api/v1/payments/${mine}/cancel`, { token: jo.appToken, body: {} })).body.status).toBe('cancelled');
    expectError(await authorize(jo, mine, authorizeBody(jo, mine)), 409, 'INVALID_STATE');
    const hook = await eventually(async () => receiver.received.find((r) => r.body.includes(mine)), (r) => r !== undefined);
    expect(JSON.parse(hook!.body)).toMatchObject({ event: 'payment.cancelled', data: { payment_id: mine, cancelled_by: 'payer', reason: 'changed my mind' } });

    // The merchant's backend, while the payer is asked for a second factor.
    const big = (await request(jo, { amount: '60.00' })).body.payment_id as string;
    expect((await authorize(jo, big, authorizeBody(jo, big, '60.00'))).body.status).toBe('mfa_required');
    // Another merchant is told it does not exist; the payer's stranger too.
    const other = (await api.call('POST', '/api/v1/admin/mini-apps', { token: ADMIN_TOKEN, body: { name: 'Rival Shop', client_type: 'hybrid', scopes: ['user:read'] } })).body;
    expectError(await api.call('POST', `/api/v1/payments/${big}/cancel`, { headers: basic(other.backend.client_id, other.backend.client_secret), body: {} }), 404, 'NOT_FOUND');
    const stranger = await payer('kim', '10.00', app.client_id);
    expectError(await api.call('POST', `/api/v1/payments/${big}/cancel`, { token: stranger.appToken, body: {} }), 404, 'NOT_FOUND');
    const byMerchant = await api.call('POST', `/api/v1/payments/${big}/cancel`, { headers: backend, body: { reason: 'out of stock' } });
    expect(byMerchant.body).toMatchObject({ payment_id: big, status: 'cancelled', status_reason: 'CANCELLED_BY_MERCHANT' });
    const verified = await verify(jo, big, { challenge_id: 'whatever', method: 'transaction_pin', credentials: { pin: PIN } });
    expectError(verified, 409, 'INVALID_STATE');
    expect(await available(api, jo)).toBe(100);
    const merchantHook = await eventually(async () => receiver.received.find((r) => r.body.includes(big)), (r) => r !== undefined);
    expect(JSON.parse(merchantHook!.body)).toMatchObject({ event: 'payment.cancelled', data: { payment_id: big, cancelled_by: 'merchant', reason: 'out of stock' } });

    // A completed payment is not cancelled: it is refunded.
    const paid = (await request(jo)).body.payment_id as string;
    expect((await authorize(jo, paid, authorizeBody(jo, paid))).body.status).toBe('completed');
    expectError(await api.call('POST', `/api/v1/payments/${paid}/cancel`, { headers: backend, body: {} }), 409, 'INVALID_STATE');
    expect(await available(api, jo)).toBe(90);
    expectError(await api.call('POST', `/api/v1/payments/${paid}/cancel`, { token: jo.appToken, body: { reason: '' } }), 400, 'INVALID_REQUEST', 'reason');
  });
});

describe('refunds', () => {
  let shop: { client_id: string; webhook_secret: string; backend: { client_id: string; client_secret: string } };
  beforeAll(async () => {
    shop = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Refunding Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'], webhook_url: receiver.url },
    })).body;
  });
  const backend = () => ({ authorization: `Basic ${Buffer.from(`${shop.backend.client_id}:${shop.backend.client_secret}`).toString('base64')}` });
  const refund = (id: string, body: Record<string, unknown>, headers: Record<string, string> = backend()) => api.call('POST', `/api/v1/payments/${id}/refund`, { headers, body });

  async function paid(name: string, amount = '10.00') {
    const who = await payer(name, '100.00', shop.client_id);
    const { body: requested } = await request(who, { amount });
    expect((await authorize(who, requested.payment_id, authorizeBody(who, requested.payment_id, amount))).body.status).toBe('completed');
    return { who, id: requested.payment_id as string };
  }

  it('partially, repeatedly, up to the captured amount, each one entry merchant to payer', async () => {
    const { who, id } = await paid('jack');
    const merchantBefore = await merchantBalance(shop.client_id);
    const first = await refund(id, { amount: '4.00', reason: 'one coffee was cold', idempotency_key: 'r1' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ refund_id: expect.stringMatching(/^ref_/), payment_id: id, status: 'partially_refunded', amount: 4, refunded_amount: 4, refundable_amount: 6, txn_id: expect.stringMatching(/^txn_/) });
    expect(await available(api, who)).toBe(94);
    expect(merchantBefore - (await merchantBalance(shop.client_id))).toBe(400n);
    const again = await refund(id, { amount: '4.00', reason: 'one coffee was cold', idempotency_key: 'r1' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expectError(await refund(id, { amount: '5.00', idempotency_key: 'r1' }), 409, 'DUPLICATE_TRANSACTION', 'idempotency_key');
    const over = await refund(id, { amount: '7.00', idempotency_key: 'r2' });
    expectError(over, 400, 'INVALID_REQUEST', 'amount');
    expect(over.body.error.details).toMatchObject({ refundable_amount: 6 });
    const rest = await refund(id, { idempotency_key: 'r3' });
    expect(rest.body).toMatchObject({ status: 'refunded', amount: 6, refunded_amount: 10, refundable_amount: 0 });
    expectError(await refund(id, { amount: '0.01', idempotency_key: 'r4' }), 409, 'INVALID_STATE');
    expect(await available(api, who)).toBe(100);
    const shown = await api.call('GET', `/api/v1/payments/${id}`, { token: who.appToken });
    expect(shown.body).toMatchObject({ status: 'refunded', refunded_amount: 10 });
    const hooks = await eventually(async () => receiver.received.filter((r) => JSON.parse(r.body).event === 'payment.refunded' && JSON.parse(r.body).data.payment_id === id), (l) => l.length >= 2);
    expect(hooks.map((h) => JSON.parse(h.body).data.amount).sort()).toEqual([4, 6]);
  });

  it('never passes the captured amount under concurrent refunds', async () => {
    const { who, id } = await paid('kate');
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => refund(id, { amount: '3.00', idempotency_key: `race-${i}` })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(5);
    expect(await available(api, who)).toBe(99);
  });

  it('only by the merchant or an operator, only of a completed payment', async () => {
    const { id } = await paid('liam');
    expect((await refund(id, { amount: '1.00', idempotency_key: 'anon' }, {})).status).toBe(401);
    expect((await refund(id, { amount: '1.00', idempotency_key: 'wrong' }, { authorization: `Basic ${Buffer.from(`${shop.backend.client_id}:nope`).toString('base64')}` })).status).toBe(401);
    const other = (await api.call('POST', '/api/v1/admin/mini-apps', { token: ADMIN_TOKEN, body: { name: 'Not the merchant', client_type: 'hybrid', scopes: ['user:read'] } })).body;
    expectError(await refund(id, { amount: '1.00', idempotency_key: 'other' }, { authorization: `Basic ${Buffer.from(`${other.backend.client_id}:${other.backend.client_secret}`).toString('base64')}` }), 404, 'NOT_FOUND');
    const byOperator = await refund(id, { amount: '1.00', reason: 'goodwill', idempotency_key: 'op' }, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(byOperator.status).toBe(201);
    const mia = await payer('mia', '100.00', shop.client_id);
    const { body: pending } = await request(mia);
    expectError(await refund(pending.payment_id, { idempotency_key: 'early' }), 409, 'INVALID_STATE');
    expectError(await refund(id, { amount: '1.001', idempotency_key: 'bad' }), 400, 'INVALID_REQUEST', 'amount');
  });

  it("by a TEP only for the developer of a backend-less app, through that app (PROTO 7.4); never by its payer", async () => {
    // A developer's public app, approved, and a payment to it.
    const dev = await walletUser(api, { name: 'stallholder' });
    const devToken = (await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: dev.userId } })).body.access_token;
    const stall = (await api.call('POST', '/mini-apps/v1/register', { token: devToken, body: { name: 'Market Stall', technical: { client_type: 'public', scopes_requested: ['user:read', 'wallet:pay'] } } })).body.miniapp_id as string;
    await api.call('POST', `/api/v1/admin/mini-apps/${stall}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
    const nina = await payer('nina', '100.00', stall);
    const { body: requested } = await request(nina);
    expect((await authorize(nina, requested.payment_id, authorizeBody(nina, requested.payment_id))).body.status).toBe('completed');
    const id = requested.payment_id as string;
    const byTep = (token: string, key: string) => api.call('POST', `/api/v1/payments/${id}/refund`, { token, body: { amount: '4.00', reason: 'customer_request', notes: 'as PROTO shows', idempotency_key: key } });

    // The payer holds a TEP of the app too: told the payment does not exist, and nothing moves.
    expectError(await byTep(nina.appToken, 'self'), 404, 'NOT_FOUND');
    // The developer, through another app, likewise.
    expectError(await byTep(await api.token(dev.userId, ALL_WALLET_SCOPES, 'ma_demo'), 'elsewhere'), 404, 'NOT_FOUND');
    expect(await available(api, nina)).toBe(90);
    const refunded = await byTep(await api.token(dev.userId, ALL_WALLET_SCOPES, stall), 'by-dev');
    expect(refunded.status).toBe(201);
    expect(refunded.body).toMatchObject({ payment_id: id, amount: 4, status: 'partially_refunded' });
    expect(await available(api, nina)).toBe(94);

    // A developer taken off the whitelist cannot; nor can the developer of an app with a backend (its backend refunds).
    await api.call('DELETE', `/api/v1/admin/developers/${encodeURIComponent(dev.userId)}`, { token: ADMIN_TOKEN });
    expectError(await byTep(await api.token(dev.userId, ALL_WALLET_SCOPES, stall), 'revoked'), 404, 'NOT_FOUND');
    const shopDev = await walletUser(api, { name: 'shopkeeper' });
    const shopDevToken = (await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: shopDev.userId } })).body.access_token;
    const shopApp = (await api.call('POST', '/mini-apps/v1/register', { token: shopDevToken, body: { name: 'Hybrid Stall', technical: { client_type: 'hybrid', scopes_requested: ['user:read', 'wallet:pay'] } } })).body.miniapp_id as string;
    await api.call('POST', `/api/v1/admin/mini-apps/${shopApp}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
    const oscar = await payer('oscar', '100.00', shopApp);
    const { body: hybridPaid } = await request(oscar);
    expect((await authorize(oscar, hybridPaid.payment_id, authorizeBody(oscar, hybridPaid.payment_id))).body.status).toBe('completed');
    const viaTep = await api.call('POST', `/api/v1/payments/${hybridPaid.payment_id}/refund`, { token: await api.token(shopDev.userId, ALL_WALLET_SCOPES, shopApp), body: { idempotency_key: 'hybrid' } });
    expectError(viaTep, 404, 'NOT_FOUND');
    expect(await available(api, oscar)).toBe(90);
  });
});

describe('the new-device rule (PAYMENT_MFA_NEW_DEVICE_DAYS=7)', () => {
  let api7: TestApi;
  let worker7: TestWorker;
  beforeAll(async () => {
    const taskQueue = uniqueTaskQueue('payments-new-device');
    worker7 = await startTestWorker(db, { taskQueue });
    api7 = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
  });
  afterAll(async () => {
    await api7?.close();
    await worker7?.stop();
  });

  async function deviceOf(user: TestUser, deviceId: string, proof: object = pinProof()) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const registered = await api7.call('POST', '/api/v1/wallet/devices/register', {
      token: user.messenger,
      body: { device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...proof },
    });
    expect(registered.status).toBe(201);
    return privateKey;
  }
  async function authorizeSmall(user: TestUser, key: KeyObject, deviceId: string) {
    const token = await api7.token(user.userId, ALL_WALLET_SCOPES, 'ma_demo');
    n += 1;
    const { body } = await api7.call('POST', '/api/v1/payments/request', { token, body: { amount: '1.00', currency: 'USD', description: 'Tea', idempotency_key: `nd-${n}-${Date.now()}` } });
    const timestamp = new Date().toISOString();
    const signature = sign('sha256', Buffer.from(`${body.payment_id}:1.00:USD:${timestamp}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const answer = await api7.call('POST', `/api/v1/payments/${body.payment_id}/authorize`, { token, body: { signature, device_id: deviceId, timestamp } });
    return { id: body.payment_id as string, token, answer };
  }

  it("a payment signed by a new device is not completed by that device's own attestation, nor by another new one", async () => {
    const rita = await walletUser(api7, { name: 'rita', fund: '20.00' });
    const phone = await deviceOf(rita, 'phone_rita');
    const { id, token, answer } = await authorizeSmall(rita, phone, 'phone_rita');
    expect(answer.body.status).toBe('mfa_required');
    // The only device is the one that signed: it is not a second factor.
    expect(answer.body.mfa_challenge.methods.map((m: { type: string }) => m.type)).toEqual(['transaction_pin']);
    const challengeId = answer.body.mfa_challenge.challenge_id;
    const attest = (key: KeyObject, deviceId: string) => {
      const timestamp = new Date().toISOString();
      return { challenge_id: challengeId, method: 'biometric', credentials: { attestation: sign('sha256', Buffer.from(`${id}:${challengeId}:${timestamp}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64'), device_id: deviceId, timestamp } };
    };
    expectError(await api7.call('POST', `/api/v1/payments/${id}/mfa/verify`, { token, body: attest(phone, 'phone_rita') }), 400, 'INVALID_REQUEST', 'method');

    // A second device registered today is new as well; one registered long ago is a second factor.
    const tablet = await deviceOf(rita, 'tablet_rita');
    const laptop = await deviceOf(rita, 'laptop_rita');
    await db.pool.query(sql.unsafe`UPDATE devices SET registered_at = now() - interval '30 days' WHERE user_id = ${rita.userId} AND device_id = 'laptop_rita'`);
    const next = await authorizeSmall(rita, phone, 'phone_rita');
    const nextChallenge = next.answer.body.mfa_challenge.challenge_id;
    expect(next.answer.body.mfa_challenge.methods.map((m: { type: string }) => m.type)).toEqual(['transaction_pin', 'biometric']);
    const attestNext = (key: KeyObject, deviceId: string) => {
      const timestamp = new Date().toISOString();
      return { challenge_id: nextChallenge, method: 'biometric', credentials: { attestation: sign('sha256', Buffer.from(`${next.id}:${nextChallenge}:${timestamp}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64'), device_id: deviceId, timestamp } };
    };
    const verifyNext = (body: object) => api7.call('POST', `/api/v1/payments/${next.id}/mfa/verify`, { token: next.token, body });
    expectError(await verifyNext(attestNext(phone, 'phone_rita')), 400, 'INVALID_REQUEST', 'credentials.device_id');
    expectError(await verifyNext(attestNext(tablet, 'tablet_rita')), 400, 'INVALID_REQUEST', 'credentials.device_id');
    expect((await verifyNext(attestNext(laptop, 'laptop_rita'))).body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
  });

  it('a payer whose only factor is the new device that signed is told to set up a PIN or TOTP; nothing moves', async () => {
    const sam = await walletUser(api7, { name: 'sam', fund: '20.00', pin: false });
    const phone = await deviceOf(sam, 'phone_sam', {});
    const { answer } = await authorizeSmall(sam, phone, 'phone_sam');
    expectError(answer, 402, 'MFA_REQUIRED');
    expect(await available(api7, sam)).toBe(20);
  });
});
