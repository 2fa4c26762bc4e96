import { sql } from 'slonik';
import { z } from 'zod';
import type { ProviderSimulator } from '../../src/dev/providerSimulator';
import { simulatorSignature, SIMULATOR_SIGNATURE_HEADER } from '../../src/providers/simulator';
import type { TestApi } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { available, walletUser } from '../helpers/p2p';
import { startProviderStack, type ProviderStack } from '../helpers/providerStack';

/**
 * Top-ups through the API, the real worker and the provider simulator: the checkout, the
 * provider's callback (or the saga's poll) and one credit from the provider's clearing account,
 * whatever the provider repeats.
 */
let stack: ProviderStack;
let db: TestDatabase;
let api: TestApi;
let sim: ProviderSimulator;

beforeAll(async () => {
  stack = await startProviderStack('topups', { PROVIDER_POLL_SECONDS: '1', TOPUP_EXPIRES_SECONDS: '600' });
  ({ db, api, sim } = stack);
});
afterAll(async () => {
  await stack?.close();
});

let n = 0;
const topUp = (token: string, body: Record<string, unknown> = {}) =>
  api.call('POST', '/api/v1/wallet/topup', { token, body: { amount: '25.00', currency: 'USD', idempotency_key: `top-${(n += 1)}`, ...body } });
const pay = (ref: string, action: 'pay' | 'decline' = 'pay') => fetch(`${sim.url}/v1/topups/${ref}/${action}`, { method: 'POST' });
const refOf = (checkoutUrl: string) => checkoutUrl.split('/').pop()!;
const settled = (token: string, id: string) => eventually(() => api.call('GET', `/api/v1/wallet/topup/${id}`, { token }), (res) => res.body.status !== 'pending', 15_000);
const entriesOf = (id: string) => db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM journal_entries WHERE reference = ${id}`);
const clearing = () =>
  db.pool.oneFirst(sql.type(z.object({ b: z.bigint() }))`SELECT coalesce(sum(balance), 0)::bigint AS b FROM accounts WHERE kind = 'provider' AND owner = 'simulator' AND currency = 'USD'`);

test('a top-up answers where to pay; the provider callback credits the wallet once, from the provider clearing account', async () => {
  const user = await walletUser(api, { name: 'topper' });
  const before = await clearing();
  const res = await topUp(user.token);
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ topup_id: expect.stringMatching(/^top_/), status: 'pending', amount: 25, currency: 'USD', provider: 'simulator', checkout_url: expect.stringContaining(sim.url) });
  sim.inject('duplicate');
  expect((await pay(refOf(res.body.checkout_url))).status).toBe(200);
  const done = await settled(user.token, res.body.topup_id);
  expect(done.body).toMatchObject({ status: 'succeeded', txn_id: expect.any(String) });
  expect(done.body).not.toHaveProperty('checkout_url');
  expect(await available(api, user)).toBe(25);
  expect(await clearing()).toBe(before - 2500n);
  // Both copies of the callback arrived; the second was recognised and moved nothing.
  await eventually(async () => sim.callbacks.filter((c) => c.body.includes(refOf(res.body.checkout_url))).length, (k) => k === 2);
  expect(await entriesOf(res.body.topup_id)).toBe(1);
});

test('the same idempotency key answers the same top-up; another request under it is a conflict', async () => {
  const user = await walletUser(api, { name: 'repeat' });
  const first = await topUp(user.token, { idempotency_key: 'same-key' });
  const again = await topUp(user.token, { idempotency_key: 'same-key' });
  expect(again.status).toBe(200);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.body.topup_id).toBe(first.body.topup_id);
  expect(again.body.checkout_url).toBe(first.body.checkout_url);
  const other = await topUp(user.token, { idempotency_key: 'same-key', amount: '30.00' });
  expect(other.status).toBe(409);
  expect(other.body.error.code).toBe('DUPLICATE_TRANSACTION');
});

test('without a callback the saga asks the provider; a declined payment fails the top-up and moves nothing', async () => {
  const user = await walletUser(api, { name: 'poller' });
  const paid = await topUp(user.token);
  sim.inject('late', 1, 60_000);
  await pay(refOf(paid.body.checkout_url));
  expect((await settled(user.token, paid.body.topup_id)).body.status).toBe('succeeded');

  const declined = await topUp(user.token);
  await pay(refOf(declined.body.checkout_url), 'decline');
  const failed = await settled(user.token, declined.body.topup_id);
  expect(failed.body).toMatchObject({ status: 'failed', status_reason: expect.any(String) });
  expect(await entriesOf(declined.body.topup_id)).toBe(0);
  expect(await available(api, user)).toBe(25);
});

test('a callback not signed by the provider is refused, and a top-up is only its owner’s to read', async () => {
  const body = JSON.stringify({ id: 'evt_forged', type: 'topup.succeeded', data: { id: 'sim_top_x', status: 'succeeded' } });
  const forged = await api.call('POST', '/api/v1/wallet/providers/simulator/callback', {
    raw: body,
    headers: { 'content-type': 'application/json', [SIMULATOR_SIGNATURE_HEADER]: simulatorSignature('not-the-secret', Math.floor(Date.now() / 1000), body) },
  });
  expect(forged.status).toBe(401);
  expect(forged.body.error.code).toBe('INVALID_SIGNATURE');
  expect((await api.call('POST', '/api/v1/wallet/providers/stripe/callback', { raw: body, headers: { 'content-type': 'application/json' } })).status).toBe(401);

  const owner = await walletUser(api, { name: 'owner' });
  const stranger = await walletUser(api, { name: 'stranger' });
  const mine = await topUp(owner.token);
  expect((await api.call('GET', `/api/v1/wallet/topup/${mine.body.topup_id}`, { token: stranger.token })).status).toBe(404);
});

test('a top-up is read and repeated only through the mini-app that made it, or the user messenger', async () => {
  const user = await walletUser(api, { name: 'twoapps' });
  const mine = await topUp(user.token, { idempotency_key: 'app-key' });
  const otherApp = await api.token(user.userId, ['wallet:pay'], 'ma_shop_001');
  expect((await api.call('GET', `/api/v1/wallet/topup/${mine.body.topup_id}`, { token: otherApp })).status).toBe(404);
  const replayed = await topUp(otherApp, { idempotency_key: 'app-key' });
  expect(replayed.status).toBe(409);
  expect(replayed.body).not.toHaveProperty('checkout_url');
  expect((await api.call('GET', `/api/v1/wallet/topup/${mine.body.topup_id}`, { token: user.messenger })).status).toBe(200);
});

test('a payment the provider reports after the top-up ended is logged for operators and moves nothing', async () => {
  const user = await walletUser(api, { name: 'late' });
  const started = await topUp(user.token);
  const ref = refOf(started.body.checkout_url);
  // The saga is told the top-up expired (as its deadline would), then the user pays anyway.
  await db.pool.query(sql.unsafe`UPDATE topups SET status = 'expired', finished_at = now() WHERE id = ${started.body.topup_id}`);
  await api.temporal.client.workflow.getHandle(`topup-${started.body.topup_id}`).terminate('test: ended');
  await pay(ref);
  const line = await eventually(async () => api.logs.find((l) => l.msg === 'provider reports a payment for a top-up that already ended; reconcile it' && l.topup_id === started.body.topup_id), (l) => l !== undefined);
  expect(line).toMatchObject({ status: 'expired', provider_ref: ref });
  expect(await entriesOf(started.body.topup_id)).toBe(0);
  expect(await available(api, user)).toBe(0);
});

test('a top-up in another currency than the wallet is refused before anything starts', async () => {
  const user = await walletUser(api, { name: 'yen' });
  const res = await topUp(user.token, { currency: 'JPY', amount: '100' });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('CURRENCY_MISMATCH');
});
