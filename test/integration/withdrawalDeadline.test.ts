import { sql } from 'slonik';
import { z } from 'zod';
import { withdrawalById } from '../../src/db/withdrawals';
import { withdrawalWorkflowId } from '../../src/domain/withdrawals';
import { ADMIN_TOKEN, type TestApi } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { available, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startProviderStack, type ProviderStack } from '../helpers/providerStack';

/**
 * A payout the provider makes although its answer never reaches us by the withdrawal's deadline
 * (the call timed out on our side). The provider's callback names the withdrawal by the reference
 * we created the payout with, so the payout is found all the same: paid before the deadline, it
 * settles; paid after its money went back, operators are told. Without the reference, its "paid"
 * matched no withdrawal and the owner kept both the money and the payout.
 */
let stack: ProviderStack;
let api: TestApi;
const DEADLINE_SECONDS = 4;

beforeAll(async () => {
  stack = await startProviderStack('withdrawal-deadline', { WITHDRAWAL_DEADLINE_SECONDS: String(DEADLINE_SECONDS), PROVIDER_POLL_SECONDS: '1' });
  ({ api } = stack);
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

const entriesOf = (id: string) =>
  stack.db.pool.any(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM journal_entries WHERE reference = ${id} ORDER BY id`).then((rows) => rows.map((r) => r.kind));
const settlePayout = (ref: string, status: 'paid' | 'failed') =>
  fetch(`${stack.sim.url}/v1/payouts/${ref}/settle`, { method: 'POST', headers: { authorization: `Bearer ${stack.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ status }) });
const statusOf = (user: TestUser, id: string) => api.call('GET', `/api/v1/wallet/withdrawals/${id}`, { token: user.messenger });
const ended = (user: TestUser, id: string) => eventually(() => statusOf(user, id), (res) => !['pending', 'processing'].includes(res.body.status), 30_000);

/** A withdrawal whose payout call the simulator makes, then answers long after the deadline. */
async function unansweredWithdrawal(name: string) {
  const user = await walletUser(api, { name, fund: '100.00' });
  const linked = await api.call('POST', '/api/v1/wallet/external-accounts', {
    token: user.messenger,
    body: { type: 'bank_account', token: 'tok_sim_4242424242', currency: 'USD', idempotency_key: `link-${name}` },
  });
  stack.sim.inject('timeout', 1, 30_000);
  const res = await api.call('POST', '/api/v1/wallet/withdraw', {
    token: user.messenger,
    body: { amount: '30.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: `wd-${name}`, ...pinProof() },
  });
  expect(res.status).toBe(201);
  const id = res.body.withdrawal_id as string;
  const payout = await eventually(async () => [...stack.sim.operations.values()].find((op) => op.kind === 'payout' && op.reference === id), (op) => op !== undefined);
  return { user, id, payoutRef: payout!.id };
}

test('a payout paid before the deadline whose creation never answered settles: the callback recorded its reference', async () => {
  const { user, id, payoutRef } = await unansweredWithdrawal('silent-paid');
  expect((await withdrawalById(stack.db.pool, id))?.provider_ref).toBeNull();
  await settlePayout(payoutRef, 'paid');
  await eventually(() => withdrawalById(stack.db.pool, id), (w) => w?.provider_ref === payoutRef);
  const done = await ended(user, id);
  expect(done.body).toMatchObject({ status: 'completed' });
  expect(done.body.refunded).toBeUndefined();
  expect(await entriesOf(id)).toEqual(['withdrawal_hold', 'withdrawal_settle']);
  expect(await available(api, user)).toBe(70);
  expect((await withdrawalById(stack.db.pool, id))?.reconcile).toBeNull();
  await recordHistory(api.temporal.client, withdrawalWorkflowId(id), 'withdrawal', 'unanswered-paid');
}, 60_000);

test('a payout whose creation never answered and that is paid after the money went back is flagged for operators', async () => {
  const { user, id, payoutRef } = await unansweredWithdrawal('silent-late');
  const done = await ended(user, id);
  expect(done.body).toMatchObject({ status: 'expired', refunded: true });
  expect(await available(api, user)).toBe(100);
  await recordHistory(api.temporal.client, withdrawalWorkflowId(id), 'withdrawal', 'unanswered-expired');

  await settlePayout(payoutRef, 'paid');
  const flagged = await eventually(
    () => api.call('GET', '/api/v1/admin/reconciliation', { token: ADMIN_TOKEN }),
    (r) => r.body.withdrawals?.some((w: { withdrawal_id: string }) => w.withdrawal_id === id),
  );
  expect(flagged.body.withdrawals.find((w: { withdrawal_id: string }) => w.withdrawal_id === id)).toMatchObject({
    status: 'expired',
    provider_ref: payoutRef,
    reconcile: expect.stringContaining('paid after it was expired'),
  });
  // Never moved twice: the money went back once, and the late payout moves nothing.
  expect(await entriesOf(id)).toEqual(['withdrawal_hold', 'withdrawal_refund']);
  expect(await available(api, user)).toBe(100);
}, 60_000);
