import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../src/config';
import { walletBalances } from '../../src/db/ledger';
import { p2pWorkflowId, type AuthProof } from '../../src/domain/p2p';
import { setRequireP2PAcceptance } from '../../src/db/wallets';
import { createRooms } from '../../src/matrix/rooms';
import { setPin } from '../../src/factors/enrolment';
import { pinDigest } from '../../src/factors/pin';
import { systemClock } from '../../src/clock';
import { acceptTransfer, confirmTransfer, getTransfer, initiateTransfer, p2pSecrets, rejectTransfer, type P2PDeps } from '../../src/p2p/p2p';
import { fundWallet, registerWallet } from '../../src/wallet/wallets';
import { TEST_DATA_KEY } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { newUserId, testProofDeps } from '../helpers/p2p';
import { recordHistory } from '../helpers/histories';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * The saga's timers on the time-skipping test server: 24 hours and 15 minutes pass in moments,
 * against the real worker, activities and database.
 */
let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: TestDatabase;
let deps: P2PDeps;
let hs: StubHomeserver;
beforeAll(async () => {
  hs = await startStubHomeserver();
  stack = await startTimeSkippingStack('timers', { matrix: { homeserverUrl: hs.url, asToken: 'as-token-timers', serverName: 'tmcp.test' } });
  ({ env, db } = stack);
  const config = loadConfig({ NODE_ENV: 'test', P2P_ACCEPTANCE_THRESHOLD: 'USD:100000' });
  const log = pino({ level: 'silent' });
  // No homeserver here: room membership is not checked (the Synapse suite checks it).
  const rooms = createRooms({ pool: db.pool, matrix: undefined, log });
  deps = { pool: db.pool, clock: systemClock, temporal: stack.temporal, config, log, rooms, ...p2pSecrets(Buffer.from(TEST_DATA_KEY, 'hex')) };
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await hs?.close();
});

const PIN = '9137';
const pinProof: AuthProof = { method: 'pin', proof: { hashed_pin: pinDigest(PIN) } };

async function heldTransfer(amountMinor = 2500n, roomId?: string) {
  const alice = newUserId('alice');
  const bob = newUserId('bob');
  const { wallet: aw } = await registerWallet(deps, alice);
  const { wallet: bw } = await registerWallet(deps, bob);
  await fundWallet(deps, aw.id, { amount: 10_000n, currency: 'USD', idempotencyKey: `fund-${aw.id}` });
  await setPin(testProofDeps(db.pool), alice, PIN);
  await setRequireP2PAcceptance(db.pool, bw.id, true);
  const started = await initiateTransfer(deps, alice, { clientId: 'ma_demo', recipient: bob, amount: amountMinor, currency: 'USD', idempotencyKey: 'k1', roomId });
  const id = String(started.body.transfer_id);
  const confirmed = await confirmTransfer(deps, { userId: alice, clientId: 'ma_demo', firstParty: false }, id, pinProof);
  expect(confirmed.status).toBe('pending_recipient_acceptance');
  return { alice, bob, aw, bw, id };
}

const entryKinds = (id: string) =>
  db.pool.anyFirst(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM journal_entries WHERE reference = ${id} ORDER BY id`);

describe('P2P saga timers (time-skipping server)', () => {
  it('initiate takes its time and the transfer id from the clock it is given', async () => {
    const alice = newUserId('alice');
    const bob = newUserId('bob');
    const { wallet: aw } = await registerWallet(deps, alice);
    await registerWallet(deps, bob);
    await fundWallet(deps, aw.id, { amount: 1_000n, currency: 'USD', idempotencyKey: `fund-${aw.id}` });
    await setPin(testProofDeps(db.pool), alice, PIN);
    const fixed = { now: () => new Date('2031-05-06T07:08:09.000Z'), newId: () => 'p2p_fixedclockfixedclockfixe' };
    const started = await initiateTransfer({ ...deps, clock: fixed }, alice, { clientId: 'ma_demo', recipient: bob, amount: 100n, currency: 'USD', idempotencyKey: 'clock' });
    expect(started.body).toMatchObject({
      transfer_id: 'p2p_fixedclockfixedclockfixe',
      timestamp: '2031-05-06T07:08:09.000Z',
      expires_at: new Date(Date.parse('2031-05-06T07:08:09.000Z') + deps.config.p2p.authorizationWindowMs).toISOString(),
    });
  });

  it('expires an unanswered transfer after 24 hours and refunds the sender', async () => {
    const { alice, bob, aw, bw, id } = await heldTransfer(2500n, '!timers:tmcp.test');
    expect(await walletBalances(db.pool, aw.id, 'USD')).toEqual({ available: 7_500n, pending: 2_500n });
    const before = await env.currentTimeMs();
    const result = await env.client.workflow.getHandle(p2pWorkflowId(id)).result();
    expect(result.status).toBe('expired');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(24 * 3600_000 - 60_000);
    expect(await walletBalances(db.pool, aw.id, 'USD')).toEqual({ available: 10_000n, pending: 0n });
    expect((await walletBalances(db.pool, bw.id, 'USD')).available).toBe(0n);
    expect(await entryKinds(id)).toEqual(['p2p_hold', 'p2p_refund']);
    const view = await getTransfer(deps, alice, id);
    expect(view).toMatchObject({ status: 'expired', expired_at: expect.any(String), status_event_id: expect.stringMatching(/^\$stub/) });
    const status = hs.events().find((e) => e.type === 'm.tween.wallet.p2p.status' && e.content.transfer_id === id);
    expect(status).toMatchObject({ roomId: '!timers:tmcp.test', txnId: `p2p-${id}.status`, userId: '@_tmcp_payments:tmcp.test' });
    expect(status!.content).toMatchObject({ status: 'expired', expired_at: view.expired_at, visual: { status_text: 'Expired, refunded' } });
    await expect(acceptTransfer(deps, bob, id)).rejects.toMatchObject({ code: 'TRANSFER_EXPIRED' });
    await recordHistory(env.client, p2pWorkflowId(id), 'p2p', 'expired');
  });

  it('accepts after 23 hours: the hold goes to the recipient', async () => {
    const { bob, bw, id } = await heldTransfer();
    await env.sleep('23 hours');
    const accepted = await acceptTransfer(deps, bob, id);
    expect(accepted).toMatchObject({ status: 'completed', new_balance: 25 });
    const result = await env.client.workflow.getHandle(p2pWorkflowId(id)).result();
    expect(result.status).toBe('completed');
    expect((await walletBalances(db.pool, bw.id, 'USD')).available).toBe(2_500n);
    expect(await entryKinds(id)).toEqual(['p2p_hold', 'p2p_release']);
    await recordHistory(env.client, p2pWorkflowId(id), 'p2p', 'accepted');
  });

  it('rejects: the hold returns to the sender, and a late accept is refused', async () => {
    const { bob, aw, id } = await heldTransfer();
    await env.sleep('2 hours');
    const rejected = await rejectTransfer(deps, bob, id, { reason: 'user_declined' });
    expect(rejected.status).toBe('rejected');
    await expect(acceptTransfer(deps, bob, id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await env.client.workflow.getHandle(p2pWorkflowId(id)).result()).status).toBe('rejected');
    expect(await walletBalances(db.pool, aw.id, 'USD')).toEqual({ available: 10_000n, pending: 0n });
    expect(await entryKinds(id)).toEqual(['p2p_hold', 'p2p_refund']);
    await recordHistory(env.client, p2pWorkflowId(id), 'p2p', 'rejected');
  });

  it('cancels a transfer whose confirm failed once nobody confirmed it within the authorization window, moving no money', async () => {
    const alice = newUserId('alice');
    const bob = newUserId('bob');
    const { wallet: aw } = await registerWallet(deps, alice);
    await registerWallet(deps, bob);
    await fundWallet(deps, aw.id, { amount: 500n, currency: 'USD', idempotencyKey: `fund-${aw.id}` });
    await setPin(testProofDeps(db.pool), alice, PIN);
    const started = await initiateTransfer(deps, alice, { clientId: 'ma_demo', recipient: bob, amount: 100n, currency: 'USD', idempotencyKey: 'k2' });
    const id = String(started.body.transfer_id);
    // The wrong PIN starts the saga and leaves the transfer waiting: the saga's timer ends it.
    const wrongPin: AuthProof = { method: 'pin', proof: { hashed_pin: pinDigest('0000') } };
    await expect(confirmTransfer(deps, { userId: alice, clientId: 'ma_demo', firstParty: false }, id, wrongPin)).rejects.toMatchObject({ code: 'INVALID_MFA_CREDENTIALS' });
    const before = await env.currentTimeMs();
    const result = await env.client.workflow.getHandle(p2pWorkflowId(id)).result();
    expect(result.status).toBe('cancelled');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(14 * 60_000);
    expect(await getTransfer(deps, alice, id)).toMatchObject({ status: 'cancelled', status_reason: 'authorization_window_elapsed', auth_attempts: 1 });
    await expect(confirmTransfer(deps, { userId: alice, clientId: 'ma_demo', firstParty: false }, id, pinProof)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await entryKinds(id)).toEqual([]);
    await recordHistory(env.client, p2pWorkflowId(id), 'p2p', 'authorization-window-elapsed');
  });
});
