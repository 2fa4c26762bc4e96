import { loadConfig } from '../../src/config';
import { startProviderSimulator, type ProviderSimulator } from '../../src/dev/providerSimulator';
import { TMCP_STATUS } from '../../src/domain/searchAttributes';
import { insertWithdrawal } from '../../src/db/withdrawals';
import { withdrawalWorkflowId, type WithdrawalInput } from '../../src/domain/withdrawals';
import { providerRegistry } from '../../src/providers/registry';
import { startTestApi, type TestApi } from '../helpers/api';
import { recordHistory } from '../helpers/histories';
import { eventually } from '../helpers/eventually';
import { available, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';

/**
 * A withdrawal's deadline on the time-skipping server, against the provider simulator without
 * callbacks (the saga polls): a payout the provider never confirms gives the money back after
 * WITHDRAWAL_DEADLINE_SECONDS; one it pays or fails meanwhile ends as the provider says.
 */
let stack: TimeSkippingStack;
let api: TestApi;
let sim: ProviderSimulator;
const secret = 'withdrawal-timers-secret';
const DEADLINE_SECONDS = 3 * 86_400;

beforeAll(async () => {
  sim = await startProviderSimulator({ secret });
  const env = { PROVIDER_SIMULATOR_URL: sim.url, PROVIDER_SIMULATOR_SECRET: secret, PROVIDER_POLL_SECONDS: '600', WITHDRAWAL_DEADLINE_SECONDS: String(DEADLINE_SECONDS) };
  stack = await startTimeSkippingStack('withdrawal-timers', { providers: providerRegistry(loadConfig({ NODE_ENV: 'test', ...env }).providers) });
  api = await startTestApi(stack.db, { ...env, TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue }, { temporal: stack.temporal });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.stop();
  await sim?.close();
});

async function withdrawing(name: string): Promise<{ user: TestUser; id: string; payoutRef: () => Promise<string> }> {
  const user = await walletUser(api, { name, fund: '50.00' });
  const linked = await api.call('POST', '/api/v1/wallet/external-accounts', {
    token: user.messenger,
    body: { type: 'bank_account', token: 'tok_sim_55554444', currency: 'USD', idempotency_key: `link-${name}` },
  });
  const res = await api.call('POST', '/api/v1/wallet/withdraw', {
    token: user.messenger,
    body: { amount: '20.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: `wd-${name}`, ...pinProof() },
  });
  expect(res.status).toBe(201);
  expect(await available(api, user)).toBe(30);
  const id = res.body.withdrawal_id as string;
  // The saga asks the provider after the answer: the payout appears there a moment later.
  const payoutRef = async () => (await eventually(async () => [...sim.operations.values()].find((op) => op.kind === 'payout' && op.reference === id), (op) => op !== undefined))!.id;
  return { user, id, payoutRef };
}
const resultOf = (id: string) => stack.env.client.workflow.getHandle(withdrawalWorkflowId(id)).result();
const settle = (ref: string, status: 'paid' | 'failed') =>
  fetch(`${sim.url}/v1/payouts/${ref}/settle`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ status }) });

test('a payout the provider never confirms gives the money back at the deadline', async () => {
  const { user, id } = await withdrawing('unconfirmed');
  const before = await stack.env.currentTimeMs();
  expect(await resultOf(id)).toMatchObject({ status: 'expired' });
  expect((await stack.env.currentTimeMs()) - before).toBeGreaterThanOrEqual(DEADLINE_SECONDS * 1000 - 60_000);
  expect((await api.call('GET', `/api/v1/wallet/withdrawals/${id}`, { token: user.messenger })).body).toMatchObject({ status: 'expired', refunded: true });
  expect(await available(api, user)).toBe(50);
  // Operators find it by how it ended.
  expect((await stack.env.client.workflow.getHandle(withdrawalWorkflowId(id)).describe()).typedSearchAttributes.get(TMCP_STATUS)).toBe('expired');
  await recordHistory(stack.env.client, withdrawalWorkflowId(id), 'withdrawal', 'expired');
});

test('a payout paid before the deadline settles at the next look; a failed one gives the money back', async () => {
  const paid = await withdrawing('confirmed');
  await settle(await paid.payoutRef(), 'paid');
  expect(await resultOf(paid.id)).toMatchObject({ status: 'completed' });
  expect(await available(api, paid.user)).toBe(30);
  await recordHistory(stack.env.client, withdrawalWorkflowId(paid.id), 'withdrawal', 'paid');

  const failed = await withdrawing('bounced');
  await settle(await failed.payoutRef(), 'failed');
  expect(await resultOf(failed.id)).toMatchObject({ status: 'failed' });
  expect(await available(api, failed.user)).toBe(50);
  await recordHistory(stack.env.client, withdrawalWorkflowId(failed.id), 'withdrawal', 'failed');
});

test('a withdrawal whose start never arrives ends after its start window, having moved nothing', async () => {
  const user = await walletUser(api, { name: 'nostart', fund: '50.00' });
  const linked = await api.call('POST', '/api/v1/wallet/external-accounts', {
    token: user.messenger,
    body: { type: 'bank_account', token: 'tok_sim_77778888', currency: 'USD', idempotency_key: 'link-nostart' },
  });
  // The row as the API writes it, and the saga started without its start Update (the request died in between).
  const { withdrawal } = await insertWithdrawal(stack.db.pool, {
    id: 'wd_nostartaaaaaaaaaaaaaaaaa',
    owner: { kind: 'user', id: user.userId },
    walletId: user.walletId,
    clientId: null,
    externalAccountId: linked.body.external_account_id,
    provider: 'simulator',
    amount: 1000n,
    currency: 'USD',
    idempotencyKey: 'nostart',
    requestHash: 'x',
    createdAt: new Date(),
    deadlineAt: new Date(Date.now() + DEADLINE_SECONDS * 1000),
  });
  const input: WithdrawalInput = { withdrawalId: withdrawal.id, ownerKind: 'user', ownerId: user.userId, deadlineMs: DEADLINE_SECONDS * 1000, pollIntervalMs: 600_000 };
  const handle = await stack.env.client.workflow.start('withdrawalSaga', { workflowId: withdrawalWorkflowId(withdrawal.id), taskQueue: stack.temporal.taskQueue, args: [input] });
  const before = await stack.env.currentTimeMs();
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'NEVER_STARTED' });
  expect((await stack.env.currentTimeMs()) - before).toBeGreaterThanOrEqual(10 * 60_000);
  expect((await api.call('GET', `/api/v1/wallet/withdrawals/${withdrawal.id}`, { token: user.messenger })).body).toMatchObject({ status: 'failed', status_reason: 'NEVER_STARTED' });
  expect(await available(api, user)).toBe(50);
  expect([...sim.operations.values()].filter((o) => o.reference === withdrawal.id)).toEqual([]);
});
