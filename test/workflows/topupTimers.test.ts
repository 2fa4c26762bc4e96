import { loadConfig } from '../../src/config';
import { startProviderSimulator, type ProviderSimulator } from '../../src/dev/providerSimulator';
import { topUpWorkflowId } from '../../src/domain/topups';
import { providerRegistry } from '../../src/providers/registry';
import { startTestApi, type TestApi } from '../helpers/api';
import { recordHistory } from '../helpers/histories';
import { available, walletUser } from '../helpers/p2p';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';

/**
 * A top-up's deadline on the time-skipping server, against the provider simulator without
 * callbacks (the saga polls): unpaid, it expires after TOPUP_EXPIRES_SECONDS with one last look at
 * the provider; paid or declined meanwhile, it ends as the provider says.
 */
let stack: TimeSkippingStack;
let api: TestApi;
let sim: ProviderSimulator;
const secret = 'topup-timers-secret';
const EXPIRES_SECONDS = 1800;

beforeAll(async () => {
  sim = await startProviderSimulator({ secret });
  const env = { PROVIDER_SIMULATOR_URL: sim.url, PROVIDER_SIMULATOR_SECRET: secret, PROVIDER_POLL_SECONDS: '30', TOPUP_EXPIRES_SECONDS: String(EXPIRES_SECONDS) };
  stack = await startTimeSkippingStack('topup-timers', { providers: providerRegistry(loadConfig({ NODE_ENV: 'test', ...env }).providers) });
  api = await startTestApi(stack.db, { ...env, TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue }, { temporal: stack.temporal });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.stop();
  await sim?.close();
});

const topUp = (token: string, key: string) => api.call('POST', '/api/v1/wallet/topup', { token, body: { amount: '10.00', currency: 'USD', idempotency_key: key } });
const resultOf = (id: string) => stack.env.client.workflow.getHandle(topUpWorkflowId(id)).result();

test('an unpaid top-up expires after its window, and moves nothing', async () => {
  const user = await walletUser(api, { name: 'unpaid' });
  const started = await topUp(user.token, 'unpaid');
  expect(started.status).toBe(201);
  const before = await stack.env.currentTimeMs();
  expect(await resultOf(started.body.topup_id)).toMatchObject({ status: 'expired' });
  expect((await stack.env.currentTimeMs()) - before).toBeGreaterThanOrEqual(EXPIRES_SECONDS * 1000 - 60_000);
  expect((await api.call('GET', `/api/v1/wallet/topup/${started.body.topup_id}`, { token: user.token })).body).toMatchObject({ status: 'expired', status_reason: 'not paid in time' });
  expect(await available(api, user)).toBe(0);
  await recordHistory(stack.env.client, topUpWorkflowId(started.body.topup_id), 'topup', 'expired');
});

test('a top-up paid before its window ends is credited at the next look; a declined one fails', async () => {
  const user = await walletUser(api, { name: 'paid' });
  const paid = await topUp(user.token, 'paid');
  await fetch(`${sim.url}/v1/topups/${paid.body.checkout_url.split('/').pop()}/pay`, { method: 'POST' });
  expect(await resultOf(paid.body.topup_id)).toMatchObject({ status: 'succeeded', txnId: expect.any(String) });
  expect(await available(api, user)).toBe(10);
  await recordHistory(stack.env.client, topUpWorkflowId(paid.body.topup_id), 'topup', 'paid');

  const declined = await topUp(user.token, 'declined');
  await fetch(`${sim.url}/v1/topups/${declined.body.checkout_url.split('/').pop()}/decline`, { method: 'POST' });
  expect(await resultOf(declined.body.topup_id)).toMatchObject({ status: 'failed' });
  expect(await available(api, user)).toBe(10);
  await recordHistory(stack.env.client, topUpWorkflowId(declined.body.topup_id), 'topup', 'declined');
});
