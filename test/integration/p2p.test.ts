import { WorkflowNotFoundError } from '@temporalio/client';
import { sql } from 'slonik';
import { z } from 'zod';
import { overdueTransfers } from '../../src/db/p2p';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { available, confirm, expectError, initiate, PIN, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

let db: TestDatabase;
let api: TestApi;
let worker: TestWorker;
beforeAll(async () => {
  db = await freshDatabase();
  const taskQueue = uniqueTaskQueue('p2p');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue, P2P_ACCEPTANCE_THRESHOLD: 'USD:100000,JPY:150000' });
});
afterAll(async () => {
  await api.close();
  await worker.stop();
  await db.close();
});

async function pair(fund = '100.00'): Promise<{ alice: TestUser; bob: TestUser }> {
  const [alice, bob] = await Promise.all([walletUser(api, { name: 'alice', fund }), walletUser(api, { name: 'bob' })]);
  return { alice, bob };
}

describe('P2P without recipient acceptance', () => {
  it('moves the money from sender to recipient on confirm and reports completed', async () => {
    const { alice, bob } = await pair();
    const started = await initiate(api, alice, { recipient: bob.userId, amount: '12.34', note: 'Lunch' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      transfer_id: expect.stringMatching(/^p2p_[a-z2-7]{24}$/),
      status: 'pending_authorization',
      available_methods: ['pin'],
      recipient_acceptance_required: false,
      amount: 12.34,
      currency: 'USD',
      sender: { user_id: alice.userId },
      recipient: { user_id: bob.userId },
    });
    const id = started.body.transfer_id;

    const done = await confirm(api, alice, id);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      transfer_id: id,
      status: 'completed',
      recipient_acceptance_required: false,
      amount: 12.34,
      sender: { user_id: alice.userId, wallet_id: alice.walletId },
      recipient: { user_id: bob.userId, wallet_id: bob.walletId },
      timestamp: expect.any(String),
    });
    expect(await available(api, alice)).toBe(87.66);
    expect(await available(api, bob)).toBe(12.34);

    const view = await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: bob.token });
    expect(view.body).toMatchObject({ status: 'completed', auth_method: 'pin', note: 'Lunch', completed_at: expect.any(String) });

    const history = await api.call('GET', '/api/v1/wallet/transactions', { token: bob.token });
    expect(history.body.transactions[0]).toMatchObject({ type: 'p2p_received', amount: 12.34, status: 'completed', reference: id });
  });

  it('answers a repeated confirm with the first outcome, and refuses another proof and the recipient', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    expectError(await confirm(api, bob, id), 403, 'INSUFFICIENT_PERMISSIONS');
    const first = await confirm(api, alice, id);
    expect(first.status).toBe(200);
    // A client that timed out and sends the same call again gets the same answer; the money moved once.
    const retried = await confirm(api, alice, id);
    expect(retried).toMatchObject({ status: 200, body: first.body });
    const another = await confirm(api, alice, id, pinProof(PIN, 'another-device'));
    expectError(another, 409, 'INVALID_STATE');
    expect(another.body.error.details).toMatchObject({ status: 'completed' });
    expect(await available(api, bob)).toBe(1);
  });

  it('hides a transfer from anyone who is not a party to it', async () => {
    const { alice, bob } = await pair();
    const eve = await walletUser(api, { name: 'eve' });
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    expectError(await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: eve.token }), 404, 'TRANSFER_NOT_FOUND');
    expectError(await confirm(api, eve, id), 404, 'TRANSFER_NOT_FOUND');
    expectError(await api.call('GET', '/api/v1/wallet/p2p/p2p_notanid', { token: alice.token }), 400, 'INVALID_REQUEST', 'transfer_id');
  });

  it('answers INSUFFICIENT_FUNDS on confirm and leaves the transfer open for a retry', async () => {
    const { alice, bob } = await pair('5.00');
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '8.00' })).body.transfer_id;
    expectError(await confirm(api, alice, id), 402, 'INSUFFICIENT_FUNDS');
    const view = await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: alice.token });
    expect(view.body.status).toBe('pending_authorization');
    await api.call('POST', `/api/v1/admin/wallets/${alice.walletId}/fund`, {
      token: ADMIN_TOKEN,
      body: { amount: '5.00', currency: 'USD', idempotency_key: `top-up-${id}` },
    });
    expect((await confirm(api, alice, id)).body.status).toBe('completed');
    expect(await available(api, alice)).toBe(2);
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'insufficient-funds-then-completed');
  });

  it('cancels before confirmation, and then refuses to confirm', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 3 })).body.transfer_id;
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/cancel`, { token: bob.token }), 403, 'INSUFFICIENT_PERMISSIONS');
    const cancelled = await api.call('POST', `/api/v1/wallet/p2p/${id}/cancel`, { token: alice.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', status_reason: 'cancelled_by_sender', cancelled_at: expect.any(String) });
    expectError(await confirm(api, alice, id), 409, 'INVALID_STATE');
    expect(await available(api, alice)).toBe(100);
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'cancelled');
  });
});

describe('P2P initiate validation', () => {
  it('names the bad field', async () => {
    const { alice, bob } = await pair();
    expectError(await initiate(api, alice, { recipient: 'bob', amount: 1 }), 400, 'INVALID_REQUEST', 'recipient');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: '1.001' }), 400, 'INVALID_REQUEST', 'amount');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: -1 }), 400, 'INVALID_REQUEST', 'amount');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1, room_id: 'room' }), 400, 'INVALID_REQUEST', 'room_id');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1, idempotency_key: '' }), 400, 'INVALID_REQUEST', 'idempotency_key');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1, extra: true }), 400, 'INVALID_REQUEST', 'extra');
    expectError(await initiate(api, alice, { recipient: alice.userId, amount: 1 }), 400, 'INVALID_REQUEST', 'recipient');
  });

  it('answers RECIPIENT_NO_WALLET with the PROTO 6.3.5 body', async () => {
    const { alice } = await pair();
    const res = await initiate(api, alice, { recipient: '@nobody:tmcp.test', amount: 1 });
    expectError(res, 400, 'RECIPIENT_NO_WALLET');
    expect(res.body.error).toMatchObject({
      recipient: '@nobody:tmcp.test',
      can_invite: true,
      invite_url: 'tween://invite-wallet?user=@nobody:tmcp.test',
    });
  });

  it('refuses mismatched currencies, amounts over the limits, and senders without a proof method', async () => {
    const { alice, bob } = await pair();
    const euro = await walletUser(api, { name: 'euro', currency: 'EUR' });
    expectError(await initiate(api, alice, { recipient: euro.userId, amount: 1 }), 400, 'CURRENCY_MISMATCH', 'currency');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1, currency: 'EUR' }), 400, 'CURRENCY_MISMATCH', 'currency');
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: '50000.01' }), 400, 'AMOUNT_EXCEEDS_LIMIT', 'amount');
    const low = await walletUser(api, { name: 'low', fund: '10.00', pin: true });
    await db.pool.query(sql.unsafe`UPDATE wallets SET daily_limit = 500 WHERE id = ${low.walletId}`);
    expect((await confirm(api, low, (await initiate(api, low, { recipient: bob.userId, amount: '4.00' })).body.transfer_id)).status).toBe(200);
    const over = await initiate(api, low, { recipient: bob.userId, amount: '1.01' });
    expectError(over, 429, 'DAILY_LIMIT_EXCEEDED');
    expect(over.body.error.details).toMatchObject({ daily_limit: 5, daily_used: 4, remaining: 1 });
    const nopin = await walletUser(api, { name: 'nopin', fund: '10.00', pin: false });
    expectError(await initiate(api, nopin, { recipient: bob.userId, amount: 1 }), 402, 'MFA_REQUIRED');
    const noWallet = { userId: '@ghost:tmcp.test', token: await api.token('@ghost:tmcp.test', ['wallet:pay']), messenger: '', walletId: '' };
    expectError(await initiate(api, noWallet, { recipient: bob.userId, amount: 1 }), 404, 'NO_WALLET');
    expectError(
      await api.call('POST', '/api/v1/wallet/p2p/initiate', { token: await api.token(alice.userId, ['wallet:balance']), body: {} }),
      403,
      'INSUFFICIENT_PERMISSIONS',
    );
  });

  it('checks the daily limit again at settlement, under the account locks', async () => {
    const low = await walletUser(api, { name: 'race', fund: '10.00' });
    const { bob } = await pair();
    await db.pool.query(sql.unsafe`UPDATE wallets SET daily_limit = 500 WHERE id = ${low.walletId}`);
    const a = (await initiate(api, low, { recipient: bob.userId, amount: '3.00' })).body.transfer_id;
    const b = (await initiate(api, low, { recipient: bob.userId, amount: '3.00' })).body.transfer_id;
    const results = await Promise.all([confirm(api, low, a), confirm(api, low, b)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 429]);
    expect(await available(api, low)).toBe(7);
  });
});

describe('P2P transfers nobody confirmed', () => {
  it('are listed for the sweeper page by page, each once, and only once their window has closed', async () => {
    const { alice, bob } = await pair();
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(String((await initiate(api, alice, { recipient: bob.userId, amount: '1.00' })).body.transfer_id));
    // Windows that closed minutes ago, with microseconds a JavaScript Date cannot hold; a fourth is still open.
    for (const id of ids) await db.pool.query(sql.unsafe`UPDATE p2p_transfers SET authorization_expires_at = clock_timestamp() - interval '2 minutes' WHERE id = ${id}`);
    const open = String((await initiate(api, alice, { recipient: bob.userId, amount: '1.00' })).body.transfer_id);
    const before = new Date();
    const listed: string[] = [];
    let last: string | undefined;
    for (let page = 0; page < 1000; page += 1) {
      const found = await overdueTransfers(db.pool, before, 2, last);
      if (found.length === 0) break;
      listed.push(...found.map((t) => t.id));
      last = found.at(-1)!.id;
    }
    expect(listed.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    expect(listed).not.toContain(open);
    expect(new Set(listed).size).toBe(listed.length);
  });
});

describe('P2P idempotency', () => {
  it('answers 20 concurrent identical initiates with one transfer and one response, and 20 identical confirms with one workflow and one settlement', async () => {
    const { alice, bob } = await pair();
    const body = { recipient: bob.userId, amount: '2.50', idempotency_key: 'same-key-20' };
    const responses = await Promise.all(Array.from({ length: 20 }, () => initiate(api, alice, body)));
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([201]));
    const ids = new Set(responses.map((r) => r.body.transfer_id));
    expect(ids.size).toBe(1);
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    const rows = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM p2p_transfers WHERE sender_user_id = ${alice.userId}`);
    expect(rows).toBe(1);
    const [id] = [...ids];
    const confirms = await Promise.all(Array.from({ length: 20 }, () => confirm(api, alice, id)));
    expect(new Set(confirms.map((r) => `${r.status} ${r.body.status}`))).toEqual(new Set(['200 completed']));
    const runs = [];
    for await (const wf of api.temporal.client.workflow.list({ query: `WorkflowId = 'p2p-${id}'` })) runs.push(wf);
    expect(runs).toHaveLength(1);
    const entries = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM journal_entries WHERE reference = ${id}`);
    expect(entries).toBe(1);
    expect(await available(api, bob)).toBe(2.5);
  });

  it('answers the same key with a different body 409 DUPLICATE_TRANSACTION', async () => {
    const { alice, bob } = await pair();
    expect((await initiate(api, alice, { recipient: bob.userId, amount: 1, idempotency_key: 'k-dup' })).status).toBe(201);
    const res = await initiate(api, alice, { recipient: bob.userId, amount: 2, idempotency_key: 'k-dup' });
    expectError(res, 409, 'DUPLICATE_TRANSACTION', 'idempotency_key');
  });

  it('keeps the original answer after the transfer moved on', async () => {
    const { alice, bob } = await pair();
    const body = { recipient: bob.userId, amount: 1, idempotency_key: 'k-later' };
    const first = await initiate(api, alice, body);
    await confirm(api, alice, first.body.transfer_id);
    const again = await initiate(api, alice, body);
    expect(again.body).toEqual(first.body);
    expect(await available(api, bob)).toBe(1);
  });
});

describe('P2P with recipient acceptance', () => {
  it('holds the money until the recipient accepts', async () => {
    const { alice, bob } = await pair('2000.00');
    const started = await initiate(api, alice, { recipient: bob.userId, amount: '1500.00' });
    expect(started.body.recipient_acceptance_required).toBe(true);
    const id = started.body.transfer_id;
    const held = await confirm(api, alice, id);
    expect(held.body).toMatchObject({ status: 'pending_recipient_acceptance', expires_at: expect.any(String) });
    const balance = await api.call('GET', '/api/v1/wallet/balance', { token: alice.token });
    expect(balance.body.balance).toMatchObject({ available: 500, pending: 1500 });
    expect(await available(api, bob)).toBe(0);

    expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/accept`, { token: alice.token, body: {} }), 403, 'INSUFFICIENT_PERMISSIONS');
    const accepted = await api.call('POST', `/api/v1/wallet/p2p/${id}/accept`, { token: bob.token, body: { device_id: 'd1' } });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ transfer_id: id, status: 'completed', accepted_at: expect.any(String), new_balance: 1500 });
    expect(await available(api, bob)).toBe(1500);
    const after = await api.call('GET', '/api/v1/wallet/balance', { token: alice.token });
    expect(after.body.balance).toMatchObject({ available: 500, pending: 0 });
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/reject`, { token: bob.token, body: {} }), 409, 'INVALID_STATE');
  });

  it('returns the hold to the sender when the recipient rejects', async () => {
    const { alice, bob } = await pair();
    const settings = await api.call('PUT', '/api/v1/wallet/settings', { token: bob.messenger, body: { require_p2p_acceptance: true } });
    expect(settings.body).toEqual({ wallet_id: bob.walletId, require_p2p_acceptance: true, require_payment_mfa: false });
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '10.00' })).body.transfer_id;
    expect((await confirm(api, alice, id)).body.status).toBe('pending_recipient_acceptance');
    const rejected = await api.call('POST', `/api/v1/wallet/p2p/${id}/reject`, {
      token: bob.token,
      body: { reason: 'user_declined', message: 'Thanks but not needed' },
    });
    expect(rejected.body).toMatchObject({ transfer_id: id, status: 'rejected', refund_initiated: true, rejected_at: expect.any(String) });
    expect(await available(api, alice)).toBe(100);
    expect(await available(api, bob)).toBe(0);
    const view = await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: alice.token });
    expect(view.body).toMatchObject({ status: 'rejected', status_reason: 'user_declined' });
    const history = await api.call('GET', '/api/v1/wallet/transactions', { token: alice.token });
    expect(history.body.transactions.map((t: any) => [t.type, t.status])).toEqual([
      ['p2p_refund', 'completed'],
      ['p2p_sent', 'rejected'],
      ['deposit', 'completed'],
    ]);
    expect(history.body.transactions[0]).toMatchObject({ direction: 'credit', from: { user_id: bob.userId }, reference: id });
    expect(history.body.transactions[1]).toMatchObject({ direction: 'debit', to: { user_id: bob.userId }, amount: 10 });
  });
});

describe('P2P confirm body', () => {
  it('names the bad proof field', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    expectError(await confirm(api, alice, id, {}), 400, 'INVALID_REQUEST', 'auth_proof');
    expectError(await confirm(api, alice, id, { auth_proof: { method: 'pin', proof: { hashed_pin: '1234' } } }), 400, 'INVALID_REQUEST', 'auth_proof.proof.hashed_pin');
    expectError(await confirm(api, alice, id, { auth_proof: { method: 'face', proof: {} } }), 400, 'INVALID_REQUEST', 'auth_proof.method');
    expect((await confirm(api, alice, id, pinProof())).status).toBe(200);
  });
});

describe('P2P refusals by the saga and by the API', () => {
  async function held() {
    const { alice, bob } = await pair();
    await api.call('PUT', '/api/v1/wallet/settings', { token: bob.messenger, body: { require_p2p_acceptance: true } });
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '5.00' })).body.transfer_id;
    expect((await confirm(api, alice, id)).body.status).toBe('pending_recipient_acceptance');
    return { alice, bob, id };
  }

  async function acceptedUpdates(id: string): Promise<number> {
    const history = await api.temporal.client.workflow.getHandle(`p2p-${id}`).fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
  }

  it('refuses a call in the wrong state in the validator, before it reaches the history', async () => {
    const { alice, bob, id } = await held();
    expect(await acceptedUpdates(id)).toBe(1);
    // Another proof than the one that confirmed it (the same one would get the first answer again).
    expectError(await confirm(api, alice, id, pinProof(PIN, 'another-device')), 409, 'INVALID_STATE');
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/cancel`, { token: alice.token }), 409, 'INVALID_STATE');
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/reject`, { token: alice.token, body: {} }), 403, 'INSUFFICIENT_PERMISSIONS');
    expect(await acceptedUpdates(id)).toBe(1);

    const fresh = (await initiate(api, alice, { recipient: bob.userId, amount: '1.00' })).body.transfer_id;
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${fresh}/accept`, { token: bob.token, body: {} }), 409, 'INVALID_STATE');
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${fresh}/reject`, { token: bob.token, body: {} }), 409, 'INVALID_STATE');
    expectError(await confirm(api, bob, fresh), 403, 'INSUFFICIENT_PERMISSIONS');
    expectError(await api.call('POST', `/api/v1/wallet/p2p/${fresh}/cancel`, { token: bob.token }), 403, 'INSUFFICIENT_PERMISSIONS');
    // Refused from PostgreSQL: only the sender's confirm or cancel starts a saga.
    await expect(api.temporal.client.workflow.getHandle(`p2p-${fresh}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('answers TRANSFER_NOT_FOUND to anyone who is not a party, on every action', async () => {
    const { id } = await held();
    const eve = await walletUser(api, { name: 'eve' });
    for (const action of ['accept', 'reject', 'cancel', 'confirm']) {
      expectError(await api.call('POST', `/api/v1/wallet/p2p/${id}/${action}`, { token: eve.token, body: action === 'confirm' ? pinProof() : {} }), 404, 'TRANSFER_NOT_FOUND');
      expectError(await api.call('POST', `/api/v1/wallet/p2p/p2p_nope/${action}`, { token: eve.token, body: {} }), 400, 'INVALID_REQUEST', 'transfer_id');
    }
    expect(await acceptedUpdates(id)).toBe(1);
  });

  it('refuses cancel after confirmation and keeps the money where it went', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '2.00' })).body.transfer_id;
    expect((await confirm(api, alice, id)).body.status).toBe('completed');
    const res = await api.call('POST', `/api/v1/wallet/p2p/${id}/cancel`, { token: alice.token });
    expectError(res, 409, 'INVALID_STATE');
    expect(res.body.error.details).toMatchObject({ status: 'completed' });
    expect(await available(api, bob)).toBe(2);
  });

  it('answers RECIPIENT_NO_WALLET for a recipient whose wallet is suspended, and WALLET_SUSPENDED to a suspended sender', async () => {
    const { alice, bob } = await pair();
    await api.call('PATCH', `/api/v1/admin/wallets/${bob.walletId}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
    const res = await initiate(api, alice, { recipient: bob.userId, amount: 1 });
    expectError(res, 400, 'RECIPIENT_NO_WALLET');
    expect(res.body.error).toMatchObject({ recipient: bob.userId, invite_url: `tween://invite-wallet?user=${bob.userId}` });
    expect(JSON.stringify(res.body)).not.toContain('suspended');
    await api.call('PATCH', `/api/v1/admin/wallets/${bob.walletId}`, { token: ADMIN_TOKEN, body: { status: 'active' } });
    await api.call('PATCH', `/api/v1/admin/wallets/${alice.walletId}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1 }), 403, 'WALLET_SUSPENDED');
  });

  it('answers a confirm for a recipient whose wallet stopped being active with what initiate answers, saying nothing of its status', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    await api.call('PATCH', `/api/v1/admin/wallets/${bob.walletId}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
    const res = await confirm(api, alice, id);
    expectError(res, 400, 'RECIPIENT_NO_WALLET');
    expect(res.body.error.details).toEqual({ recipient: bob.userId, can_invite: true, invite_url: `tween://invite-wallet?user=${bob.userId}` });
    expect(JSON.stringify(res.body)).not.toMatch(/suspended|wallet_status|tw_/);
    expect(await available(api, alice)).toBe(100);
  });

  it('does not count a rejected transfer against the daily limit', async () => {
    const { alice, bob } = await pair('20.00');
    await db.pool.query(sql.unsafe`UPDATE wallets SET daily_limit = 500 WHERE id = ${alice.walletId}`);
    await api.call('PUT', '/api/v1/wallet/settings', { token: bob.messenger, body: { require_p2p_acceptance: true } });
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '4.00' })).body.transfer_id;
    await confirm(api, alice, id);
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: '2.00' }), 429, 'DAILY_LIMIT_EXCEEDED');
    expect((await api.call('POST', `/api/v1/wallet/p2p/${id}/reject`, { token: bob.token, body: {} })).body.status).toBe('rejected');
    const balance = await api.call('GET', '/api/v1/wallet/balance', { token: alice.token });
    expect(balance.body.limits).toMatchObject({ daily_limit: 5, daily_used: 0 });
    const again = (await initiate(api, alice, { recipient: bob.userId, amount: '5.00' })).body.transfer_id;
    expect((await confirm(api, alice, again)).body.status).toBe('pending_recipient_acceptance');
  });
});

/** Every payload in a history (update arguments, activity inputs, results), as text. */
function payloadTexts(node: unknown, out: string[] = []): string[] {
  if (node instanceof Uint8Array) {
    out.push(Buffer.from(node).toString('utf8'));
  } else if (Array.isArray(node)) {
    for (const item of node) payloadTexts(item, out);
  } else if (node && typeof node === 'object') {
    for (const value of Object.values(node)) payloadTexts(value, out);
  }
  return out;
}

describe('P2P for operators', () => {
  it('names who, how much and which room in the workflow summary, and is found by user and room', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: '3.25', room_id: '!ops:tmcp.test' })).body.transfer_id;
    const handle = api.temporal.client.workflow.getHandle(`p2p-${id}`);
    // The saga starts with the sender's confirm.
    await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await confirm(api, alice, id);
    const description = await handle.describe();
    expect(description.type).toBe('p2pSaga');
    expect(await description.staticSummary()).toBe(`P2P ${id}: ${alice.userId} → ${bob.userId}, 3.25 USD in !ops:tmcp.test`);
    await handle.result();
    const found: string[] = [];
    const query = `TmcpUserIds = '${bob.userId}' AND TmcpRoomId = '!ops:tmcp.test' AND TmcpStatus = 'completed'`;
    for (let attempt = 0; attempt < 50 && found.length === 0; attempt += 1) {
      for await (const wf of api.temporal.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 100)); // visibility is eventually consistent
    }
    expect(found).toEqual([`p2p-${id}`]);
  });

  it('keeps the PIN out of the workflow history: the proof travels sealed', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    expect((await confirm(api, alice, id)).status).toBe(200);
    const history = await api.temporal.client.workflow.getHandle(`p2p-${id}`).fetchHistory();
    const decoded = payloadTexts(history).join('\n');
    expect(decoded).toContain('"method":"pin"');
    expect(decoded).toMatch(/"sealed":"v1\./);
    expect(decoded).not.toContain(pinProof().auth_proof.proof.hashed_pin);
  });
});

describe('P2P limits the protocol says must hold', () => {
  it('enforces the monthly limit at initiate and again at settlement, and shows monthly usage', async () => {
    const { alice, bob } = await pair('50.00');
    await db.pool.query(sql.unsafe`UPDATE wallets SET monthly_limit = 1000 WHERE id = ${alice.walletId}`);
    const first = (await initiate(api, alice, { recipient: bob.userId, amount: '6.00' })).body.transfer_id;
    const second = (await initiate(api, alice, { recipient: bob.userId, amount: '6.00' })).body.transfer_id;
    expect((await confirm(api, alice, first)).body.status).toBe('completed');
    // Initiated while it fitted; at settlement, under the account locks, it no longer does.
    const late = await confirm(api, alice, second);
    expectError(late, 429, 'MONTHLY_LIMIT_EXCEEDED');
    expect(late.body.error.details).toMatchObject({ monthly_limit: 10, monthly_used: 6, remaining: 4 });
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: '4.01' }), 429, 'MONTHLY_LIMIT_EXCEEDED');
    const balance = await api.call('GET', '/api/v1/wallet/balance', { token: alice.token });
    expect(balance.body.limits).toMatchObject({ daily_used: 6, monthly_limit: 10, monthly_used: 6 });
    expect(await available(api, bob)).toBe(6);
  });

  it('counts usage per UTC day and month from running totals, not from the wallet history', async () => {
    const { alice, bob } = await pair('50.00');
    await db.pool.query(sql.unsafe`UPDATE wallets SET daily_limit = 1000, monthly_limit = 2000 WHERE id = ${alice.walletId}`);
    // Money that left last month counts for neither; earlier this month, for the month only.
    await db.pool.query(sql.unsafe`
      INSERT INTO wallet_usage (account_id, day, outflow)
      SELECT id, d, 700 FROM accounts, unnest(ARRAY[
        (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 day')::date,
        CASE WHEN extract(day FROM now() AT TIME ZONE 'UTC') > 1 THEN (now() AT TIME ZONE 'UTC')::date - 1 END]) AS d
      WHERE kind = 'wallet' AND owner = ${alice.walletId} AND d IS NOT NULL`);
    const today = (await api.call('GET', '/api/v1/wallet/balance', { token: alice.token })).body.limits;
    const earlierThisMonth = today.monthly_used === 7 ? 7 : 0;
    expect(today).toMatchObject({ daily_used: 0, monthly_used: earlierThisMonth });
    expect((await confirm(api, alice, (await initiate(api, alice, { recipient: bob.userId, amount: '3.00' })).body.transfer_id)).status).toBe(200);
    expect((await api.call('GET', '/api/v1/wallet/balance', { token: alice.token })).body.limits).toMatchObject({ daily_used: 3, monthly_used: earlierThisMonth + 3 });
    // The check reads the day rows of one month through their key, never the postings.
    const [plan] = await db.pool.anyFirst(sql.type(z.object({ 'QUERY PLAN': z.unknown() }))`
      EXPLAIN (FORMAT JSON)
      WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day)
      SELECT coalesce(sum(u.outflow), 0) FROM today
      LEFT JOIN accounts a ON a.kind = 'wallet' AND a.owner = ${alice.walletId} AND a.currency = 'USD'
      LEFT JOIN wallet_usage u ON u.account_id = a.id AND u.day >= date_trunc('month', today.day)::date`);
    expect(JSON.stringify(plan)).not.toMatch(/"Relation Name":"(postings|journal_entries)"/);
  });

  it('refuses senders whose verification level does not allow P2P sends, at initiate and at confirm', async () => {
    const { alice, bob } = await pair();
    const id = (await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.transfer_id;
    const patched = await api.call('PATCH', `/api/v1/admin/wallets/${alice.walletId}`, { token: ADMIN_TOKEN, body: { verification_level: 0 } });
    expect(patched.body).toMatchObject({ wallet_id: alice.walletId, verification_level: 0, verified_at: null });
    expect((await api.call('GET', '/api/v1/wallet/verification', { token: alice.token })).body.features.p2p_send).toBe(false);
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1 }), 403, 'P2P_SEND_NOT_ALLOWED');
    expectError(await confirm(api, alice, id), 403, 'P2P_SEND_NOT_ALLOWED');
    // Receiving is still allowed at level 0.
    await api.call('POST', `/api/v1/admin/wallets/${bob.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '5.00', currency: 'USD', idempotency_key: `level-${bob.walletId}` } });
    expect((await confirm(api, bob, (await initiate(api, bob, { recipient: alice.userId, amount: 1 })).body.transfer_id)).status).toBe(200);
    expectError(await api.call('PATCH', `/api/v1/admin/wallets/${alice.walletId}`, { token: ADMIN_TOKEN, body: { verification_level: 4 } }), 400, 'INVALID_REQUEST', 'verification_level');
    expectError(await api.call('PATCH', `/api/v1/admin/wallets/${alice.walletId}`, { token: ADMIN_TOKEN, body: {} }), 400, 'INVALID_REQUEST');
    const restored = await api.call('PATCH', `/api/v1/admin/wallets/${alice.walletId}`, { token: ADMIN_TOKEN, body: { verification_level: 2 } });
    expect(restored.body).toMatchObject({ verification_level: 2, verified_at: expect.any(String) });
    expect((await confirm(api, alice, id)).body.status).toBe('completed');
  });

  it('applies the acceptance threshold in the currency of the transfer (whole yen for JPY)', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '500000', currency: 'JPY' });
    const bob = await walletUser(api, { name: 'bob', currency: 'JPY' });
    const small = await initiate(api, alice, { recipient: bob.userId, amount: 1500, currency: 'JPY' });
    expect(small.body).toMatchObject({ amount: 1500, recipient_acceptance_required: false });
    const large = await initiate(api, alice, { recipient: bob.userId, amount: 150001, currency: 'JPY' });
    expect(large.body.recipient_acceptance_required).toBe(true);
  });

  it('lets a sender have at most P2P_MAX_PENDING_PER_SENDER transfers waiting for authorization, however the requests race', async () => {
    const { alice, bob } = await pair();
    const answers = await Promise.all(Array.from({ length: 14 }, () => initiate(api, alice, { recipient: bob.userId, amount: 1 })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    const refused = answers.filter((a) => a.status !== 201);
    for (const res of refused) expectError(res, 429, 'RATE_LIMIT_EXCEEDED');
    expect(refused[0]!.body.error.details).toEqual({ pending_transfers: 10, max_pending_transfers: 10 });
    // A retried initiate still gets its answer; settling one makes room for one more.
    const kept = answers.find((a) => a.status === 201)!;
    expect((await confirm(api, alice, kept.body.transfer_id)).status).toBe(200);
    expect((await initiate(api, alice, { recipient: bob.userId, amount: 1 })).status).toBe(201);
    expectError(await initiate(api, alice, { recipient: bob.userId, amount: 1 }), 429, 'RATE_LIMIT_EXCEEDED');
  });
});

describe('P2P calls repeated after a timeout', () => {
  it('answers a repeated accept, reject or cancel with the first outcome, and moves the money once', async () => {
    const { alice, bob } = await pair();
    await api.call('PUT', '/api/v1/wallet/settings', { token: bob.messenger, body: { require_p2p_acceptance: true } });
    const call = (user: TestUser, id: string, action: string) => api.call('POST', `/api/v1/wallet/p2p/${id}/${action}`, { token: user.token, body: {} });

    const accepted = (await initiate(api, alice, { recipient: bob.userId, amount: '2.00' })).body.transfer_id;
    await confirm(api, alice, accepted);
    const firstAccept = await call(bob, accepted, 'accept');
    expect(firstAccept.body.status).toBe('completed');
    expect(await call(bob, accepted, 'accept')).toMatchObject({ status: 200, body: { transfer_id: accepted, status: 'completed', accepted_at: firstAccept.body.accepted_at } });
    expectError(await call(bob, accepted, 'reject'), 409, 'INVALID_STATE');

    const rejected = (await initiate(api, alice, { recipient: bob.userId, amount: '3.00' })).body.transfer_id;
    await confirm(api, alice, rejected);
    const firstReject = await call(bob, rejected, 'reject');
    expect(await call(bob, rejected, 'reject')).toMatchObject({ status: 200, body: firstReject.body });

    const cancelled = (await initiate(api, alice, { recipient: bob.userId, amount: '4.00' })).body.transfer_id;
    expect((await call(alice, cancelled, 'cancel')).body.status).toBe('cancelled');
    expect((await call(alice, cancelled, 'cancel')).body.status).toBe('cancelled');
    expectError(await confirm(api, alice, cancelled), 409, 'INVALID_STATE');

    expect(await available(api, bob)).toBe(2);
    expect(await available(api, alice)).toBe(98);
  });
});
