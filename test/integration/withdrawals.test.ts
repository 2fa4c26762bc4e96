import { sql } from 'slonik';
import { z } from 'zod';
import { postEntry } from '../../src/db/ledger';
import { keepEarlyPaidReport, notePayoutPaid, purgePayoutReports, withdrawalById } from '../../src/db/withdrawals';
import type { ProviderSimulator } from '../../src/dev/providerSimulator';
import { endWithdrawal } from '../../src/ledger/withdrawals';
import { ADMIN_TOKEN, type TestApi } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { available, expectError, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startProviderStack, type ProviderStack } from '../helpers/providerStack';

/**
 * Withdrawals and merchant payouts through the API, the real worker and the provider simulator:
 * the money held, the payout made once whatever the provider does (time out, answer twice, confirm
 * late), then settled, or given back on failure; external accounts kept as a token and a label.
 */
let stack: ProviderStack;
let db: TestDatabase;
let api: TestApi;
let sim: ProviderSimulator;
let secret: string;

beforeAll(async () => {
  stack = await startProviderStack('withdrawals', { PROVIDER_POLL_SECONDS: '1' });
  ({ db, api, sim, secret } = stack);
});
afterAll(async () => {
  await stack?.close();
});

let n = 0;
const key = (prefix: string) => `${prefix}-${(n += 1)}`;
const link = (token: string, body: Record<string, unknown> = {}) =>
  api.call('POST', '/api/v1/wallet/external-accounts', { token, body: { type: 'bank_account', token: 'tok_sim_000123456789', currency: 'USD', idempotency_key: key('link'), ...body } });
const withdraw = (user: TestUser, accountId: string, body: Record<string, unknown> = {}) =>
  api.call('POST', '/api/v1/wallet/withdraw', { token: user.messenger, body: { amount: '30.00', currency: 'USD', external_account_id: accountId, idempotency_key: key('wd'), ...pinProof(), ...body } });
const settled = (user: TestUser, id: string) =>
  eventually(() => api.call('GET', `/api/v1/wallet/withdrawals/${id}`, { token: user.messenger }), (res) => res.body.status !== 'processing' && res.body.status !== 'pending', 20_000);
const payoutOf = (accountToken: string) => [...sim.operations.values()].filter((op) => op.kind === 'payout' && op.destination === accountToken);
const settlePayout = (ref: string, status: 'paid' | 'failed') =>
  fetch(`${sim.url}/v1/payouts/${ref}/settle`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ status }) });
const entriesOf = (id: string) =>
  db.pool.any(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM journal_entries WHERE reference = ${id} ORDER BY id`).then((rows) => rows.map((r) => r.kind));
const tokenOf = (accountId: string) => db.pool.oneFirst(sql.type(z.object({ t: z.string() }))`SELECT provider_token AS t FROM external_accounts WHERE id = ${accountId}`);

async function linkedUser(name: string, fund = '100.00') {
  const user = await walletUser(api, { name, fund });
  const linked = await link(user.messenger);
  expect(linked.status).toBe(201);
  return { user, accountId: linked.body.external_account_id as string, providerToken: await tokenOf(linked.body.external_account_id) };
}

describe('external accounts', () => {
  it('are linked through the provider and kept as a token and a masked label; listed and removed by their owner only', async () => {
    const user = await walletUser(api, { name: 'linker' });
    const body = { type: 'bank_account', token: 'tok_sim_000123456789', currency: 'USD', idempotency_key: 'link-once' };
    const linked = await api.call('POST', '/api/v1/wallet/external-accounts', { token: user.messenger, body });
    expect(linked.status).toBe(201);
    expect(linked.body).toEqual({
      external_account_id: expect.stringMatching(/^xa_[a-z2-7]{24}$/),
      type: 'bank_account',
      label: 'Simulated Bank •••• 6789',
      currency: 'USD',
      provider: 'simulator',
      created_at: expect.any(String),
    });
    // The account number's digits are nowhere in what we keep but the last four.
    const row = await db.pool.one(sql.type(z.object({ provider_token: z.string(), label: z.string() }))`SELECT provider_token, label FROM external_accounts WHERE id = ${linked.body.external_account_id}`);
    expect(JSON.stringify(row)).not.toContain('123456789');
    const again = await api.call('POST', '/api/v1/wallet/external-accounts', { token: user.messenger, body });
    expect(again.status).toBe(200);
    expect(again.body.external_account_id).toBe(linked.body.external_account_id);
    expect(sim.accounts.size).toBeGreaterThan(0);
    expect([...sim.accounts.values()].filter((a) => a.id === row.provider_token)).toHaveLength(1);
    expectError(await link(user.messenger, { token: 'not-a-token!' }), 400, 'INVALID_REQUEST', 'token');
    expectError(await link(user.messenger, { token: 'tok_bogus' }), 400, 'INVALID_REQUEST', 'token');

    const listed = await api.call('GET', '/api/v1/wallet/external-accounts', { token: user.messenger });
    expect(listed.body.external_accounts.map((a: { external_account_id: string }) => a.external_account_id)).toEqual([linked.body.external_account_id]);
    const stranger = await walletUser(api, { name: 'stranger' });
    expect((await api.call('GET', '/api/v1/wallet/external-accounts', { token: stranger.messenger })).body.external_accounts).toEqual([]);
    expectError(await api.call('DELETE', `/api/v1/wallet/external-accounts/${linked.body.external_account_id}`, { token: stranger.messenger }), 404, 'NOT_FOUND');
    // A mini-app, even holding wallet:pay, does not manage where the user's money goes.
    expectError(await api.call('GET', '/api/v1/wallet/external-accounts', { token: user.token }), 403, 'INSUFFICIENT_PERMISSIONS');

    const removed = await api.call('DELETE', `/api/v1/wallet/external-accounts/${linked.body.external_account_id}`, { token: user.messenger });
    expect(removed.status).toBe(200);
    expect(removed.body.removed_at).toEqual(expect.any(String));
    expect(sim.accounts.get(row.provider_token)?.removed).toBe(true);
    expect((await api.call('GET', '/api/v1/wallet/external-accounts', { token: user.messenger })).body.external_accounts).toEqual([]);
    expectError(await withdraw(user, linked.body.external_account_id), 404, 'NOT_FOUND');
  });
});

describe('withdrawals', () => {
  it('hold the money, pay out once with the same idempotency key through a provider timeout, and settle on the confirmation', async () => {
    const { user, accountId, providerToken } = await linkedUser('withdrawer');
    sim.inject('timeout', 1, 20_000);
    const res = await withdraw(user, accountId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ withdrawal_id: expect.stringMatching(/^wd_/), status: 'processing', amount: 30, currency: 'USD', external_account_id: accountId, provider: 'simulator' });
    expect(await available(api, user)).toBe(70);
    // The first payout call timed out at our side after the simulator made it; the retry (same key) got the same payout.
    const payouts = await eventually(async () => payoutOf(providerToken), (ops) => ops.length === 1 && ops[0]!.status === 'pending', 40_000);
    expect(payouts).toHaveLength(1);
    sim.inject('duplicate');
    await settlePayout(payouts[0]!.id, 'paid');
    const done = await settled(user, res.body.withdrawal_id);
    expect(done.body).toMatchObject({ status: 'completed', txn_id: expect.any(String) });
    expect(await entriesOf(res.body.withdrawal_id)).toEqual(['withdrawal_hold', 'withdrawal_settle']);
    expect(await available(api, user)).toBe(70);
    const history = await api.call('GET', '/api/v1/wallet/transactions', { token: user.token });
    expect(history.body.transactions[0]).toMatchObject({ type: 'withdrawal', direction: 'debit', amount: 30, status: 'completed', reference: res.body.withdrawal_id });
  }, 60_000);

  it('give the money back when the provider fails the payout, and report a late confirmation without moving it again', async () => {
    const { user, accountId, providerToken } = await linkedUser('unlucky');
    const res = await withdraw(user, accountId, { amount: '40.00' });
    expect(res.body.status).toBe('processing');
    const [payout] = await eventually(async () => payoutOf(providerToken), (ops) => ops.length === 1);
    await settlePayout(payout!.id, 'failed');
    const done = await settled(user, res.body.withdrawal_id);
    expect(done.body).toMatchObject({ status: 'failed', refunded: true, status_reason: expect.any(String) });
    expect(await available(api, user)).toBe(100);
    expect(await entriesOf(res.body.withdrawal_id)).toEqual(['withdrawal_hold', 'withdrawal_refund']);

    // The provider now says it paid after all: operators hear of it; the ledger does not move.
    sim.operations.get(payout!.id)!.status = 'pending';
    await settlePayout(payout!.id, 'paid');
    const flagged = await eventually(() => api.call('GET', '/api/v1/admin/reconciliation', { token: ADMIN_TOKEN }), (r) => r.body.withdrawals?.some((w: { withdrawal_id: string }) => w.withdrawal_id === res.body.withdrawal_id));
    expect(flagged.body.withdrawals.find((w: { withdrawal_id: string }) => w.withdrawal_id === res.body.withdrawal_id)).toMatchObject({ status: 'failed', reconcile: expect.stringContaining('paid') });
    expect(await entriesOf(res.body.withdrawal_id)).toEqual(['withdrawal_hold', 'withdrawal_refund']);
    expect(await available(api, user)).toBe(100);
  });

  it('flag a payout the provider reports paid while its money is being given back, whichever reaches the row first', async () => {
    for (const order of ['report first', 'give-back first'] as const) {
      const { user, accountId, providerToken } = await linkedUser(`racer-${order.split(' ')[0]}`);
      const res = await withdraw(user, accountId, { amount: '25.00' });
      const [payout] = await eventually(async () => payoutOf(providerToken), (ops) => ops.length === 1);
      // The callback finds the withdrawal by the payout's reference, which the saga records once the provider answers.
      await eventually(() => withdrawalById(db.pool, res.body.withdrawal_id), (w) => w?.provider_ref === payout!.id);
      // The saga's give-back (its deadline passed) and the provider's paid callback, at the same moment.
      const giveBack = () => endWithdrawal(db.pool, res.body.withdrawal_id, { status: 'expired', reason: 'deadline' });
      const report = () => notePayoutPaid(db.pool, 'simulator', payout!.id);
      const [first, second] = order === 'report first' ? [report, giveBack] : [giveBack, report];
      await Promise.all([first(), second()]);
      const row = await withdrawalById(db.pool, res.body.withdrawal_id);
      expect([order, row?.status, row?.reconcile]).toEqual([order, 'expired', expect.stringContaining('paid after it was expired')]);
      expect(await entriesOf(res.body.withdrawal_id)).toEqual(['withdrawal_hold', 'withdrawal_refund']);
      expect(await available(api, user)).toBe(100);
    }
  });

  it('keep an early paid report only until its withdrawal has it, or for longer than any deadline when none does', async () => {
    const { user, accountId, providerToken } = await linkedUser('reported');
    const res = await withdraw(user, accountId, { amount: '5.00' });
    const [payout] = await eventually(async () => payoutOf(providerToken), (ops) => ops.length === 1);
    await keepEarlyPaidReport(db.pool, 'simulator', payout!.id);
    await settlePayout(payout!.id, 'paid');
    expect((await settled(user, res.body.withdrawal_id)).body.status).toBe('completed');
    await keepEarlyPaidReport(db.pool, 'simulator', 'sim_po_stranger_fresh');
    await keepEarlyPaidReport(db.pool, 'simulator', 'sim_po_stranger_old');
    await db.pool.query(sql.unsafe`UPDATE payout_paid_reports SET reported_at = now() - interval '32 days' WHERE provider_ref = 'sim_po_stranger_old'`);
    await purgePayoutReports(db.pool);
    const left = await db.pool.anyFirst(sql.type(z.object({ r: z.string() }))`SELECT provider_ref AS r FROM payout_paid_reports WHERE provider_ref = ANY(${sql.array([payout!.id, 'sim_po_stranger_fresh', 'sim_po_stranger_old'], 'text')})`);
    expect(left).toEqual(['sim_po_stranger_fresh']);
  });

  it('are refused without the right proof, above the balance or the limits, and counted once per idempotency key', async () => {
    const { user, accountId } = await linkedUser('careful', '50.00');
    const wrong = { idempotency_key: 'wrong-pin', ...pinProof('0000') };
    expectError(await withdraw(user, accountId, wrong), 401, 'INVALID_MFA_CREDENTIALS');
    // The same request again gets the same answer; the right PIN under that key is told to use a new one.
    expectError(await withdraw(user, accountId, wrong), 401, 'INVALID_MFA_CREDENTIALS');
    expectError(await withdraw(user, accountId, { idempotency_key: 'wrong-pin' }), 409, 'INVALID_STATE');
    expect(await available(api, user)).toBe(50);
    expectError(await withdraw(user, accountId, { amount: '80.00' }), 402, 'INSUFFICIENT_FUNDS');
    expect(await available(api, user)).toBe(50);
    const over = await api.call('POST', '/api/v1/wallet/withdraw', {
      token: user.messenger,
      body: { amount: '20.00', currency: 'EUR', external_account_id: accountId, idempotency_key: 'eur', ...pinProof() },
    });
    expectError(over, 400, 'CURRENCY_MISMATCH', 'currency');
    const body = { amount: '10.00', currency: 'USD', external_account_id: accountId, idempotency_key: 'once', ...pinProof() };
    const first = await api.call('POST', '/api/v1/wallet/withdraw', { token: user.messenger, body });
    const again = await api.call('POST', '/api/v1/wallet/withdraw', { token: user.messenger, body });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.withdrawal_id).toBe(first.body.withdrawal_id);
    expectError(await api.call('POST', '/api/v1/wallet/withdraw', { token: user.messenger, body: { ...body, amount: '11.00' } }), 409, 'DUPLICATE_TRANSACTION', 'idempotency_key');
    expect(await available(api, user)).toBe(40);
    // Level 0 may not withdraw (PROTO 6.4).
    await db.pool.query(sql.unsafe`UPDATE wallets SET verification_level = 0 WHERE id = ${user.walletId}`);
    expectError(await withdraw(user, accountId, { amount: '1.00' }), 403, 'WITHDRAWAL_NOT_ALLOWED');
    // The wallet's own owner only: a withdrawal is not found by anyone else.
    const stranger = await walletUser(api, { name: 'peeker' });
    expectError(await api.call('GET', `/api/v1/wallet/withdrawals/${first.body.withdrawal_id}`, { token: stranger.messenger }), 404, 'NOT_FOUND');
    expectError(await withdraw(stranger, accountId), 404, 'NOT_FOUND');
  });
});

describe('merchants', () => {
  it('read their balance and entries, and pay out through the same saga with their backend credentials', async () => {
    const shop = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Paying Out Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'] },
    })).body as { client_id: string; backend: { client_id: string; client_secret: string } };
    const basic = (id: string, s: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}` });
    const backend = basic(shop.backend.client_id, shop.backend.client_secret);
    // The shop's takings so far (as payments leave them): 120.00 in its merchant account.
    await postEntry(db.pool, {
      idempotencyKey: `takings:${shop.client_id}`,
      kind: 'funding',
      postings: [
        { account: { kind: 'funding', currency: 'USD' }, amount: -12_000n },
        { account: { kind: 'merchant', clientId: shop.client_id, currency: 'USD' }, amount: 12_000n },
      ],
    });
    const balance = await api.call('GET', '/api/v1/merchant/balance', { headers: backend });
    expect(balance.status).toBe(200);
    expect(balance.body).toEqual({ client_id: shop.client_id, balances: [{ currency: 'USD', available: 120, paying_out: 0 }] });

    const linked = await api.call('POST', '/api/v1/merchant/external-accounts', {
      headers: backend,
      body: { type: 'bank_account', token: 'tok_sim_99887766', currency: 'USD', idempotency_key: 'shop-bank' },
    });
    expect(linked.status).toBe(201);
    const payout = await api.call('POST', '/api/v1/merchant/payouts', {
      headers: backend,
      body: { amount: '100.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: 'payout-1' },
    });
    expect(payout.status).toBe(201);
    expect(payout.body).toMatchObject({ status: 'processing', amount: 100 });
    expect((await api.call('GET', '/api/v1/merchant/balance', { headers: backend })).body.balances).toEqual([{ currency: 'USD', available: 20, paying_out: 100 }]);
    const providerToken = await tokenOf(linked.body.external_account_id);
    const [made] = await eventually(async () => payoutOf(providerToken), (ops) => ops.length === 1);
    await settlePayout(made!.id, 'paid');
    const done = await eventually(() => api.call('GET', `/api/v1/merchant/payouts/${payout.body.withdrawal_id}`, { headers: backend }), (r) => r.body.status === 'completed');
    expect(done.body.status).toBe('completed');
    expect((await api.call('GET', '/api/v1/merchant/balance', { headers: backend })).body.balances).toEqual([{ currency: 'USD', available: 20, paying_out: 0 }]);
    const entries = await api.call('GET', '/api/v1/merchant/transactions', { headers: backend });
    expect(entries.body.transactions.map((t: { type: string; amount: number }) => [t.type, t.amount])).toEqual([['withdrawal', 100], ['deposit', 120]]);
    expect(entries.body.pagination).toMatchObject({ total: 2, has_more: false, snapshot: expect.any(String) });
    const list = await api.call('GET', '/api/v1/merchant/payouts', { headers: backend });
    expect(list.body.withdrawals.map((w: { withdrawal_id: string }) => w.withdrawal_id)).toEqual([payout.body.withdrawal_id]);

    // Another merchant sees none of it, a bad secret nothing at all, and a user's TEP is not a merchant.
    const other = (await api.call('POST', '/api/v1/admin/mini-apps', { token: ADMIN_TOKEN, body: { name: 'Other Shop', client_type: 'hybrid', scopes: ['user:read'] } })).body;
    const otherBackend = basic(other.backend.client_id, other.backend.client_secret);
    expect((await api.call('GET', '/api/v1/merchant/balance', { headers: otherBackend })).body).toEqual({ client_id: other.client_id, balances: [{ currency: 'USD', available: 0, paying_out: 0 }] });
    expectError(await api.call('GET', `/api/v1/merchant/payouts/${payout.body.withdrawal_id}`, { headers: otherBackend }), 404, 'NOT_FOUND');
    expectError(
      await api.call('POST', '/api/v1/merchant/payouts', { headers: otherBackend, body: { amount: '1.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: 'steal' } }),
      404,
      'NOT_FOUND',
    );
    expect((await api.call('GET', '/api/v1/merchant/balance', { headers: basic(shop.backend.client_id, 'wrong') })).status).toBe(401);
    const user = await walletUser(api, { name: 'notamerchant' });
    expect((await api.call('GET', '/api/v1/merchant/balance', { token: user.token })).status).toBe(401);
    // More than the account holds is refused and moves nothing.
    const tooMuch = await api.call('POST', '/api/v1/merchant/payouts', {
      headers: backend,
      body: { amount: '50.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: 'payout-2' },
    });
    expectError(tooMuch, 402, 'INSUFFICIENT_FUNDS');
    expect((await api.call('GET', '/api/v1/merchant/balance', { headers: backend })).body.balances).toEqual([{ currency: 'USD', available: 20, paying_out: 0 }]);
  });
});
