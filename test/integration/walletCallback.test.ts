import { createHmac } from 'node:crypto';
import { canonicalJson } from '../../src/crypto/canonicalJson';
import { loadConfig } from '../../src/config';
import { createMiniapp, webhookSealer } from '../../src/miniapps/admin';
import { startTestApi, TEST_DATA_KEY, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { walletEventWorkflowId } from '../../src/wallet/providerCallbacks';
import { recordHistory } from '../helpers/histories';
import { expectError } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/** PROTO 4.11.7-4.11.8: a trusted wallet provider reports a payment; the room hears of it once. */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
let worker: TestWorker;
let provider: { id: string; secret: string };
let untrusted: { id: string; secret: string };
let second: { id: string; secret: string };
const ROOM = '!lunch:tmcp.test';
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  const registry = { pool: db.pool, config: loadConfig({ NODE_ENV: 'test' }), webhookSealer: webhookSealer(Buffer.from(TEST_DATA_KEY, 'hex')) };
  const register = async (name: string) => {
    const app = await createMiniapp(registry, { name, clientType: 'confidential', redirectUris: [], scopes: ['user:read'], preApprovedScopes: [], webhookUrl: 'https://wallet.example/hooks', firstParty: false });
    return { id: String(app.client_id), secret: String(app.webhook_secret) };
  };
  provider = await register('Wallet Co');
  untrusted = await register('Not a wallet');
  second = await register('Another wallet');
  const taskQueue = uniqueTaskQueue('wallet-callback');
  const matrixEnv = stubMatrixEnv(hs, 'walletcb');
  worker = await startTestWorker(db, { taskQueue, matrix: { homeserverUrl: hs.url, asToken: matrixEnv.MATRIX_AS_TOKEN!, serverName: 'tmcp.test' } });
  api = await startTestApi(db, { ...matrixEnv, TEMPORAL_TASK_QUEUE: taskQueue, WALLET_PROVIDERS: `${provider.id},${second.id}` });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await hs?.close();
  await db?.close();
});

const callback = (body: Record<string, unknown>) => ({
  event: 'payment.completed',
  transaction_id: `txn_wallet_${Math.random().toString(36).slice(2)}`,
  amount: '50.00',
  currency: 'USD',
  sender: { user_id: '@alice:tmcp.test', wallet_id: 'tw_alice' },
  recipient: { user_id: '@bob:tmcp.test' },
  room_id: ROOM,
  note: 'Lunch money',
  timestamp: new Date().toISOString(),
  ...body,
});

function post(raw: string, who: { id: string; secret: string }, signature = `sha256=${createHmac('sha256', who.secret).update(raw).digest('hex')}`) {
  return api.call('POST', '/api/v1/wallet/callback', { raw, headers: { 'content-type': 'application/json', 'x-wallet-provider': who.id, 'x-webhook-signature': signature } });
}

test('a signed callback becomes one room event, whatever the provider repeats', async () => {
  const body = callback({});
  const raw = JSON.stringify(body);
  const first = await post(raw, provider);
  expect(first.status).toBe(200);
  expect(first.body).toEqual({ event_id: expect.stringMatching(/^\$stub/), idempotent: false, transaction_id: body.transaction_id });
  const again = await post(raw, provider);
  expect(again.body).toEqual({ event_id: first.body.event_id, idempotent: true, transaction_id: body.transaction_id });
  const events = hs.events().filter((e) => e.content.transaction && (e.content.transaction as { txn_id: string }).txn_id === body.transaction_id);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ roomId: ROOM, type: 'm.tween.payment.completed', userId: '@_tmcp_payments:tmcp.test' });
  expect(events[0]!.content).toMatchObject({ msgtype: 'm.tween.payment', payment_type: 'completed', transaction: { amount: '50.00', currency: 'USD' }, sender: { user_id: '@alice:tmcp.test' }, note: 'Lunch money' });
  await recordHistory(api.temporal.client, walletEventWorkflowId(provider.id, body.transaction_id), 'walletEvent', 'sent');
});

test("one provider's transaction ids never meet another's", async () => {
  const raw = JSON.stringify(callback({ transaction_id: 'txn_shared_id' }));
  const first = await post(raw, provider);
  const fromSecond = await post(raw, second);
  expect(first.body).toMatchObject({ idempotent: false, event_id: expect.stringMatching(/^\$stub/) });
  expect(fromSecond.body).toMatchObject({ idempotent: false, event_id: expect.stringMatching(/^\$stub/) });
  expect(fromSecond.body.event_id).not.toBe(first.body.event_id);
  expect((await post(raw, second)).body).toEqual({ event_id: fromSecond.body.event_id, idempotent: true, transaction_id: 'txn_shared_id' });
});

test('refuses an unsigned, wrongly signed, altered or untrusted callback with 401, and bad input with 400', async () => {
  const eventsBefore = hs.events().filter((e) => e.type.startsWith('m.tween.payment')).length;
  const raw = JSON.stringify(callback({}));
  expectError(await post(raw, provider, 'sha256=00'), 401, 'INVALID_SIGNATURE');
  expectError(await post(raw, { ...provider, secret: 'not the secret' }), 401, 'INVALID_SIGNATURE');
  expectError(await post(raw.replace('50.00', '5000.00'), provider, `sha256=${createHmac('sha256', provider.secret).update(raw).digest('hex')}`), 401, 'INVALID_SIGNATURE');
  expectError(await post(raw, untrusted), 401, 'INVALID_SIGNATURE');
  expectError(await api.call('POST', '/api/v1/wallet/callback', { raw, headers: { 'content-type': 'application/json' } }), 401, 'INVALID_SIGNATURE');
  expectError(await post(JSON.stringify(callback({ event: 'payment.stolen' })), provider), 400, 'INVALID_REQUEST', 'event');
  expectError(await post(JSON.stringify(callback({ room_id: 'lunch' })), provider), 400, 'INVALID_REQUEST', 'room_id');
  expect(hs.events().filter((e) => e.type.startsWith('m.tween.payment'))).toHaveLength(eventsBefore);
});

test("PROTO's own signature forms: the Authorization header, or the body's signature field over the rest of it; no provider header needed", async () => {
  const send = (raw: string, headers: Record<string, string> = {}) => api.call('POST', '/api/v1/wallet/callback', { raw, headers: { 'content-type': 'application/json', ...headers } });
  const mac = (secret: string, payload: string, encoding: 'hex' | 'base64') => createHmac('sha256', secret).update(payload).digest(encoding);

  // Authorization, base64, over the raw bytes; the provider is found by its secret.
  const byHeader = JSON.stringify(callback({}));
  const first = await send(byHeader, { authorization: `HMAC-SHA256 ${mac(second.secret, byHeader, 'base64')}` });
  expect([first.status, first.body.idempotent]).toEqual([200, false]);

  // The signature field: the HMAC of the body without it, in canonical JSON (keys sorted, no spaces).
  const body = callback({ note: 'Field-signed' });
  const canonical = canonicalJson(body);
  const signed = JSON.stringify({ ...body, signature: mac(provider.secret, canonical, 'base64') }, null, 2);
  const second_ = await send(signed);
  expect([second_.status, second_.body.transaction_id]).toEqual([200, body.transaction_id]);
  // The same event again is the same answer; the other provider's copy of that id is its own.
  expect((await send(signed)).body.idempotent).toBe(true);

  // Altered after signing, signed by a provider not trusted, or signed with nothing: 401.
  expectError(await send(JSON.stringify({ ...JSON.parse(signed), amount: '5000.00' })), 401, 'INVALID_SIGNATURE');
  const untrustedBody = callback({});
  expectError(await send(JSON.stringify({ ...untrustedBody, signature: mac(untrusted.secret, canonicalJson(untrustedBody), 'hex') })), 401, 'INVALID_SIGNATURE');
  expectError(await send(byHeader, { authorization: 'HMAC-SHA256 not-a-signature' }), 401, 'INVALID_SIGNATURE');
  expectError(await send(JSON.stringify(callback({}))), 401, 'INVALID_SIGNATURE');
});
