import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'slonik';
import { z } from 'zod';
import * as oidc from 'openid-client';
import { chromium, type Browser } from 'playwright-core';
import { configureSynapse, ensureSynapseInstalled, registerSynapseUser, startSynapse, synapseLogFile, type RunningSynapse } from '../../src/dev/synapse';
import { startProviderSimulator, type ProviderSimulator } from '../../src/dev/providerSimulator';
import { newAppserviceToken } from '../../src/matrix/registration';
import { ADMIN_TOKEN, apiClient, type ApiClient } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { CHROMIUM_FLAGS, chromiumPath } from '../helpers/chromium';
import { matrixClient, type MatrixClient } from '../helpers/matrixUser';
import { available, confirm, expectError, initiate, PIN, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startApiProcess, startWorkerProcess, type ServerProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';
import { testEnv } from '../setup/env';

/**
 * The Application Service against a real Synapse (PyPI, SQLite, loopback) with the production api
 * and worker processes: registration, bots, invites, an in-room payment seen by the recipient,
 * membership privacy, and each side going down while the other has something to deliver.
 */
const run = promisify(execFile);
// A dotted name, so the registration's escaped regexes (`tmcp\.test`) are what Synapse matches with.
const SERVER = 'tmcp.test';
const AS_ID = 'tween-miniapps';
const PAYMENTS = `@_tmcp_payments:${SERVER}`;

let db: TestDatabase;
let synapse: RunningSynapse;
let restartSynapse: () => Promise<RunningSynapse>;
let api: ServerProcess;
let startApi: () => ServerProcess;
let worker: ServerProcess;
let client: ApiClient;
let asToken: string;
let alice: MatrixClient;
let bob: MatrixClient;
/** A new person on the homeserver, with their own access token. */
let person: (localpart: string, password?: string) => Promise<MatrixClient>;
let carol: MatrixClient;
let dataDir: string;
let sim: ProviderSimulator;
const SIM_SECRET = 'synapse-provider-secret';

beforeAll(async () => {
  db = await freshDatabase();
  const { file: keysFile, keys } = await testKeys();
  const [asPort, hsPort] = [await freePort(), await freePort()];
  asToken = newAppserviceToken();
  const hsToken = newAppserviceToken();
  const sharedSecret = randomBytes(24).toString('hex');
  dataDir = path.join(testEnv('scratchDir'), `synapse-${randomBytes(4).toString('hex')}`);
  const dir = dataDir;

  const python = await ensureSynapseInstalled();
  const registrationFile = path.join(dir, 'tmcp-registration.yaml');
  const configFile = await configureSynapse(python, { dataDir: dir, serverName: SERVER, port: hsPort, appserviceFiles: [registrationFile], registrationSharedSecret: sharedSecret });
  // `npm run registration` writes the file Synapse loads (it refuses to start on one it cannot load).
  await run(process.execPath, ['--import', 'tsx', 'src/cli/registration.ts', '--out', registrationFile], {
    env: {
      PATH: process.env.PATH,
      MATRIX_HOMESERVER_URL: `http://127.0.0.1:${hsPort}`,
      MATRIX_AS_TOKEN: asToken,
      MATRIX_HS_TOKEN: hsToken,
      MATRIX_SERVER_NAME: SERVER,
      MATRIX_AS_ID: AS_ID,
      MATRIX_AS_URL: `http://127.0.0.1:${asPort}`,
    },
  });
  restartSynapse = () => startSynapse(python, configFile, hsPort);
  synapse = await restartSynapse();

  const publicUrl = `http://127.0.0.1:${asPort}`;
  // The wallet provider: the simulator, calling the API back; payouts are paid half a second after they are made.
  sim = await startProviderSimulator({ secret: SIM_SECRET, callbackUrl: `${publicUrl}/api/v1/wallet/providers/simulator/callback`, payoutSettleMs: 500 });
  const env = {
    PROVIDER_SIMULATOR_URL: sim.url,
    PROVIDER_SIMULATOR_SECRET: SIM_SECRET,
    PROVIDER_POLL_SECONDS: '1',
    DATABASE_URL: db.url,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('synapse'),
    MATRIX_HOMESERVER_URL: synapse.url,
    MATRIX_AS_TOKEN: asToken,
    MATRIX_HS_TOKEN: hsToken,
    MATRIX_SERVER_NAME: SERVER,
    MATRIX_AS_ID: AS_ID,
    MATRIX_EVENT_WAIT_MS: '3000',
  };
  worker = startWorkerProcess(env);
  startApi = () => startApiProcess(asPort, { ...env, TEP_KEYS_FILE: keysFile, ADMIN_TOKEN });
  api = startApi();
  await Promise.all([worker.ready, api.ready]);
  client = apiClient(publicUrl, keys, publicUrl);

  person = async (localpart: string, password = `${localpart}-${randomBytes(6).toString('hex')}`) =>
    matrixClient(synapse.url, await registerSynapseUser(synapse.url, sharedSecret, { localpart, password }));
  [alice, bob, carol] = [await person('alice'), await person('bob'), await person('carol')];
}, 300_000);

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await synapse?.stop();
  await sim?.close();
  await db?.close();
});

/** Waits for a condition; when it never comes, the error carries the ends of Synapse's and our logs. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, withinMs = 60_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read().catch(() => undefined as T);
    if (value !== undefined && done(value)) return value;
    if (Date.now() > deadline) {
      const tail = (text: string) => text.trim().split('\n').slice(-25).join('\n');
      const synapseText = await readFile(synapseLogFile(dataDir), 'utf8').catch(() => '');
      throw new Error(
        `condition not met within ${withinMs} ms; last value ${JSON.stringify(value)}\n--- synapse\n${tail(synapseText)}\n--- api\n${tail(api.output())}\n--- worker\n${tail(worker.output())}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const p2pEvents = async (viewer: MatrixClient, roomId: string, transferId: string) =>
  (await viewer.timeline(roomId)).filter((e) => e.type === 'm.tween.wallet.p2p' && e.content.transfer_id === transferId);

let room: string;
let aliceWallet: TestUser;
let bobWallet: TestUser;

test('Synapse loads the generated registration, and the bots exist with their display names', async () => {
  await eventually(async () => api.output(), (out) => out.includes('the homeserver reaches us'));
  for (const [localpart, name] of [['_tmcp', 'TMCP Bot'], ['_tmcp_payments', 'Tween Payments'], ['_tmcp_updater', 'Tween Mini-App Updater']]) {
    const res = await fetch(`${synapse.url}/_matrix/client/v3/profile/${encodeURIComponent(`@${localpart}:${SERVER}`)}/displayname`);
    expect(await res.json()).toEqual({ displayname: name });
  }
});

test("the homeserver's ping reaches us", async () => {
  const res = await fetch(`${synapse.url}/_matrix/client/v1/appservice/${AS_ID}/ping`, {
    method: 'POST',
    headers: { authorization: `Bearer ${asToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ transaction_id: 'e2e-ping' }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ duration_ms: expect.any(Number) });
});

test('an invited bot joins; Alice pays Bob in the room; Bob sees exactly one event, sent by the bot', async () => {
  room = await alice.createRoom([bob.userId, PAYMENTS]);
  await bob.join(room);
  await eventually(() => alice.joinedMembers(room), (members) => members.includes(PAYMENTS) && members.includes(bob.userId));

  aliceWallet = await walletUser(client, { userId: alice.userId, fund: '100.00' });
  bobWallet = await walletUser(client, { userId: bob.userId });
  // Alice and Bob joined before the bot: the server knows them from the member list it read after joining.
  const resolved = await eventually(
    () => client.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(bob.userId)}`, { token: aliceWallet.token }),
    (res) => res.status === 200,
    15_000,
  );
  expect(resolved.body).toMatchObject({ wallet_id: bobWallet.walletId });
  const started = await initiate(client, aliceWallet, { recipient: bob.userId, amount: '12.50', note: 'Lunch', room_id: room });
  expect(started.status).toBe(201);
  const id = started.body.transfer_id as string;
  const confirmed = await confirm(client, aliceWallet, id);
  expect(confirmed.body).toMatchObject({ status: 'completed', event_id: expect.stringMatching(/^\$/) });

  const seen = await eventually(() => p2pEvents(bob, room, id), (events) => events.length > 0);
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({ sender: PAYMENTS, event_id: confirmed.body.event_id });
  expect(seen[0]!.content).toEqual({
    msgtype: 'm.tween.money',
    body: '💸 Sent $12.50',
    transfer_id: id,
    amount: '12.50',
    currency: 'USD',
    note: 'Lunch',
    sender: { user_id: alice.userId },
    recipient: { user_id: bob.userId },
    status: 'completed',
    recipient_acceptance_required: false,
    timestamp: confirmed.body.timestamp,
  });
  expect(await available(client, bobWallet)).toBe(12.5);
  // The bot's own event comes back to us in a transaction and is recognised as ours.
  const outcome = await eventually(
    () => db.pool.maybeOneFirst(sql.type(z.object({ outcome: z.string() }))`SELECT outcome FROM matrix_tween_events WHERE event_id = ${confirmed.body.event_id as string}`),
    (o) => o !== null,
  );
  expect(outcome).toBe('ours');
});

test('wallets resolve only for people who share a room, and a room never seen is read from Synapse', async () => {
  const carolWallet = await walletUser(client, { userId: carol.userId });
  const resolve = (who: TestUser, userId: string, roomId?: string) =>
    client.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(userId)}${roomId ? `?room_id=${encodeURIComponent(roomId)}` : ''}`, { token: who.token });
  // Named as the homeserver names them (the profile Synapse keeps; a registered user's localpart by default).
  expect((await resolve(aliceWallet, bob.userId)).body).toMatchObject({ wallet_id: bobWallet.walletId, display_name: expect.any(String) });
  expect((await resolve(aliceWallet, bob.userId, room)).status).toBe(200);
  expectError(await resolve(aliceWallet, carol.userId), 403, 'INSUFFICIENT_PERMISSIONS');
  expectError(await resolve(carolWallet, bob.userId, room), 403, 'INSUFFICIENT_PERMISSIONS');

  // Bob and Carol meet in a room before the bot is there: the server saw neither join.
  const theirs = await bob.createRoom([carol.userId]);
  await carol.join(theirs);
  await bob.invite(theirs, PAYMENTS);
  await eventually(() => bob.joinedMembers(theirs), (members) => members.includes(PAYMENTS));
  expect((await resolve(bobWallet, carol.userId, theirs)).body).toMatchObject({ wallet_id: carolWallet.walletId });
  const carolRow = await db.pool.one(sql.type(z.object({ membership: z.string(), event_id: z.string().nullable() }))`
    SELECT membership, event_id FROM room_members WHERE room_id = ${theirs} AND user_id = ${carol.userId}`);
  expect(carolRow).toEqual({ membership: 'join', event_id: null }); // from the member list, not from an event
  expectError(await initiate(client, aliceWallet, { recipient: carol.userId, amount: '1.00', room_id: theirs }), 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
});

test('someone in the room without a wallet is invited to make one by the payments bot, once (PROTO 6.3.10)', async () => {
  const gus = await person('gus');
  await alice.invite(room, gus.userId);
  await gus.join(room);
  const ask = () => client.call('POST', '/wallet/v1/invite', { token: aliceWallet.token, body: { user_id: gus.userId, room_id: room } });
  // The server hears of Gus's join from Synapse's transaction.
  const first = await eventually(ask, (res) => res.status === 202, 15_000);
  expect((await ask()).body.workflow_id).toBe(first.body.workflow_id);
  const invites = await eventually(async () => (await gus.timeline(room)).filter((e) => e.type === 'm.tween.wallet.invite'), (events) => events.length > 0);
  expect(invites).toHaveLength(1);
  expect(invites[0]).toMatchObject({ sender: PAYMENTS, content: { inviter: alice.userId, invitee: gus.userId } });
});

test("a mini-app payment in the room, with a second factor: the room sees the payments bot's receipt", async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key_data = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const device = await client.call('POST', '/api/v1/wallet/devices/register', {
    token: aliceWallet.messenger,
    body: { device_id: 'alice_phone', public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data }, ...pinProof() },
  });
  expect(device.status).toBe(201);
  const requested = await client.call('POST', '/api/v1/payments/request', {
    token: aliceWallet.token,
    body: { amount: '5.00', currency: 'USD', description: 'Cinema tickets', room_id: room, idempotency_key: 'cinema' },
  });
  expect(requested.status).toBe(201);
  const id = requested.body.payment_id as string;
  const timestamp = new Date().toISOString();
  const signature = sign('sha256', Buffer.from(`${id}:5.00:USD:${timestamp}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
  // The device was registered a moment ago: the policy asks for a second factor.
  const asked = await client.call('POST', `/api/v1/payments/${id}/authorize`, { token: aliceWallet.token, body: { signature, device_id: 'alice_phone', timestamp } });
  expect(asked.body).toMatchObject({ status: 'mfa_required' });
  const verified = await client.call('POST', `/api/v1/payments/${id}/mfa/verify`, {
    token: aliceWallet.token,
    body: { challenge_id: asked.body.mfa_challenge.challenge_id, method: 'transaction_pin', credentials: { pin: PIN } },
  });
  expect(verified.body).toMatchObject({ status: 'verified', payment: { status: 'completed' } });
  const receipts = await eventually(
    async () => (await bob.timeline(room)).filter((e) => e.type === 'm.tween.payment.completed' && e.content.payment_id === id),
    (events) => events.length > 0,
  );
  expect(receipts).toHaveLength(1);
  expect(receipts[0]).toMatchObject({ sender: PAYMENTS });
  expect(receipts[0]!.content).toMatchObject({ msgtype: 'm.tween.payment', payment_type: 'completed', amount: '5.00', currency: 'USD', payer: { user_id: alice.userId }, merchant: { miniapp_id: 'ma_demo' } });
  // The request came first (PROTO 8.1.2), once, and the receipt refers to it.
  const request = (await bob.timeline(room)).filter((e) => e.type === 'm.tween.payment.request' && e.content.payment_id === id);
  expect(request).toHaveLength(1);
  expect(request[0]).toMatchObject({ sender: PAYMENTS, content: { miniapp_id: 'ma_demo', payment: { payment_id: id, amount: '5.00', currency: 'USD', description: 'Cinema tickets' } } });
  expect(receipts[0]!.content['m.relates_to']).toEqual({ rel_type: 'm.reference', event_id: request[0]!.event_id });

  // One she cancels: the room hears the request and the cancellation, once each.
  const dropped = await client.call('POST', '/api/v1/payments/request', {
    token: aliceWallet.token,
    body: { amount: '7.00', currency: 'USD', description: 'Popcorn', room_id: room, idempotency_key: 'popcorn' },
  });
  expect((await client.call('POST', `/api/v1/payments/${dropped.body.payment_id}/cancel`, { token: aliceWallet.token, body: {} })).body.status).toBe('cancelled');
  const ofDropped = await eventually(
    async () => (await bob.timeline(room)).filter((e) => e.content.payment_id === dropped.body.payment_id),
    (events) => events.some((e) => e.type === 'm.tween.payment.cancelled'),
  );
  expect(ofDropped.map((e) => e.type)).toEqual(['m.tween.payment.request', 'm.tween.payment.cancelled']);
});

test('a group gift in the room: Bob opens it, and both see the gift and its opening from the payments bot', async () => {
  const created = await client.call('POST', '/api/v1/wallet/gift/create', {
    token: aliceWallet.token,
    body: { type: 'group', room_id: room, total_amount: '3.00', currency: 'USD', count: 1, distribution: 'equal', message: 'For you', idempotency_key: 'synapse-gift', ...pinProof() },
  });
  expect(created.status).toBe(201);
  const id = created.body.gift_id as string;
  expect(created.body.event_id).toMatch(/^\$/);
  // Alice cannot open her own group gift; Bob can.
  expectError(await client.call('POST', `/api/v1/wallet/gift/${id}/open`, { token: aliceWallet.token, body: {} }), 403, 'INSUFFICIENT_PERMISSIONS');
  const opened = await client.call('POST', `/api/v1/wallet/gift/${id}/open`, { token: bobWallet.token, body: {} });
  expect(opened.body).toMatchObject({ amount_received: 3, stats: { your_rank: 1, total_remaining: 0 } });
  const seen = await eventually(
    async () => (await bob.timeline(room)).filter((e) => e.type.startsWith('m.tween.gift') && e.content.gift_id === id),
    (events) => events.length >= 2,
  );
  expect(seen.map((e) => e.type).sort()).toEqual(['m.tween.gift', 'm.tween.gift.opened']);
  expect(seen.every((e) => e.sender === PAYMENTS)).toBe(true);
  expect(seen.find((e) => e.type === 'm.tween.gift.opened')!.content).toMatchObject({ opened_by: bob.userId, amount: '3.00', leaderboard: [{ user: bob.userId, amount: '3.00' }] });
});

test("a developer's app in the room: its bot speaks for Alice, and the updater bot tells the room of its new version, once", async () => {
  const devToken = (await client.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: `@quizmaker:${SERVER}` } })).body.access_token as string;
  const registered = await client.call('POST', '/mini-apps/v1/register', {
    token: devToken,
    body: { name: 'Quiz Night', version: '1.0.0', technical: { client_type: 'public', scopes_requested: ['user:read', 'messaging:send'] } },
  });
  const id = registered.body.miniapp_id as string;
  expect((await client.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } })).body.status).toBe('active');
  const appBot = `@${id}:${SERVER}`;
  await alice.invite(room, appBot);
  await eventually(() => alice.joinedMembers(room), (members) => members.includes(appBot));

  // PROTO 4.16: the app's bot, for Alice (messaging:send); the same txn_id again sends nothing more.
  const appToken = await client.token(alice.userId, ['messaging:send'], id);
  const say = () => client.call('PUT', `/api/v1/matrix/rooms/${encodeURIComponent(room)}/send/quiz-1`, { token: appToken, body: { msgtype: 'm.text', body: 'Quiz starts at 8' } });
  const sent = await eventually(say, (res) => res.status === 200, 15_000);
  expect((await say()).body.event_id).toBe(sent.body.event_id);
  const said = await eventually(async () => (await bob.timeline(room)).filter((e) => e.sender === appBot && e.type === 'm.room.message'), (events) => events.length > 0);
  expect(said).toHaveLength(1);
  expect(said[0]!.content).toMatchObject({ msgtype: 'm.text', body: 'Quiz starts at 8', 'm.tween.sent_for': { user_id: alice.userId, miniapp_id: id } });

  // PROTO 8.1.4: a new version; the updater bot is let in by the app's bot and tells the room once.
  expect((await client.call('PATCH', `/mini-apps/v1/${id}`, { token: devToken, body: { version: '1.1.0' } })).body.version).toBe('1.1.0');
  await client.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  const updater = `@_tmcp_updater:${SERVER}`;
  const told = await eventually(async () => (await bob.timeline(room)).filter((e) => e.type === 'm.tween.miniapp.updated' && e.content.miniapp_id === id), (events) => events.length > 0, 30_000);
  expect(told).toHaveLength(1);
  expect(told[0]).toMatchObject({ sender: updater, content: { previous_version: '1.0.0', new_version: '1.1.0', update_type: 'minor' } });
});

test("money from outside: a top-up and a withdrawal are told once each, in the user's direct room with the payments bot", async () => {
  const dave = await person('dave');
  const wallet = await walletUser(client, { userId: dave.userId });
  const top = await client.call('POST', '/api/v1/wallet/topup', { token: wallet.token, body: { amount: '25.00', currency: 'USD', idempotency_key: 'dave-top' } });
  expect(top.status).toBe(201);
  expect((await fetch(`${sim.url}/v1/topups/${(top.body.checkout_url as string).split('/').pop()}/pay`, { method: 'POST' })).status).toBe(200);
  // The payments bot made a direct room and invited Dave (a private room: only the invite lets him join); he joins and reads it.
  const dm = await eventually(
    () => db.pool.maybeOneFirst(sql.type(z.object({ room_id: z.string() }))`SELECT room_id FROM direct_rooms WHERE user_id = ${dave.userId}`),
    (roomId) => roomId !== null,
  );
  await dave.join(dm!);
  expect(await carol.join(dm!).then(() => 'joined', () => 'refused')).toBe('refused');
  const ofType = (type: string) => dave.timeline(dm!).then((events) => events.filter((e) => e.type === type));
  const credited = await eventually(() => ofType('m.tween.wallet.topup'), (events) => events.length === 1);
  expect(credited[0]).toMatchObject({ sender: PAYMENTS, content: { topup_id: top.body.topup_id, amount: 25, currency: 'USD', status: 'succeeded', body: '25.00 USD added to your wallet' } });
  expect(await available(client, wallet)).toBe(25);
  // A top-up may name a room to be told in, one the user joined.
  expectError(
    await client.call('POST', '/api/v1/wallet/topup', { token: wallet.token, body: { amount: '5.00', currency: 'USD', idempotency_key: 'dave-room', room_id: room } }),
    403,
    'INSUFFICIENT_PERMISSIONS',
    'room_id',
  );

  const linked = await client.call('POST', '/api/v1/wallet/external-accounts', {
    token: wallet.messenger,
    body: { type: 'bank_account', token: 'tok_sim_12344321', currency: 'USD', idempotency_key: 'dave-bank' },
  });
  const out = await client.call('POST', '/api/v1/wallet/withdraw', {
    token: wallet.messenger,
    body: { amount: '10.00', currency: 'USD', external_account_id: linked.body.external_account_id, idempotency_key: 'dave-out', ...pinProof() },
  });
  expect(out.status).toBe(201);
  const paidOut = await eventually(() => ofType('m.tween.wallet.withdrawal'), (events) => events.length === 1);
  expect(paidOut[0]).toMatchObject({ sender: PAYMENTS, content: { withdrawal_id: out.body.withdrawal_id, amount: 10, status: 'completed', external_account: 'Simulated Bank •••• 4321' } });
  expect(await available(client, wallet)).toBe(15);
  // One room, one event each.
  expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM direct_rooms WHERE user_id = ${dave.userId}`)).toBe(1);
  expect(await ofType('m.tween.wallet.topup')).toHaveLength(1);
  expect(await ofType('m.tween.wallet.withdrawal')).toHaveLength(1);
});

test("a Synapse user's own access token becomes a TEP at the token endpoint, once per mini-app; withdrawing its access is written to her room as state", async () => {
  const erin = await person('erin');
  const exchange = (clientId: string) =>
    client.call('POST', '/api/v1/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: erin.accessToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        client_id: clientId,
        scope: 'user:read storage:write',
      }).toString(),
    });
  const res = await exchange('ma_shop_001');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ user_id: erin.userId, scope: 'user:read storage:write', wallet_id: expect.stringMatching(/^tw_/) });
  expect(String(res.body.access_token)).toMatch(/^tep\./);
  expect((await exchange('ma_shop_001')).body.error).toBe('invalid_grant');

  // She withdraws the app's access from her messenger (PROTO 5.6): her direct room with the payments
  // bot holds the app's authorization state, once.
  const revoked = await client.call('POST', '/api/v1/auth/revoke', { token: erin.accessToken, body: { client_id: 'ma_shop_001' } });
  expect([revoked.status, revoked.body.revoked]).toEqual([200, true]);
  const dm = await eventually(
    () => db.pool.maybeOneFirst(sql.type(z.object({ room_id: z.string() }))`SELECT room_id FROM direct_rooms WHERE user_id = ${erin.userId}`),
    (roomId) => roomId !== null,
  );
  await erin.join(dm!);
  const states = await eventually(
    () => erin.timeline(dm!).then((events) => events.filter((e) => e.type === 'm.room.tween.authorization')),
    (events) => events.length > 0,
  );
  expect(states).toHaveLength(1);
  expect(states[0]).toMatchObject({ sender: '@_tmcp_payments:tmcp.test', state_key: 'ma_shop_001', content: { authorized: false, reason: 'user_initiated', revoked_scopes: expect.arrayContaining(['user:read']) } });
});

describe('the OAuth pages in headless Chromium, signing in with a Synapse account', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A page that records what the browser refused (CSP) and any script error. */
  async function newPage() {
    const context = await browser.newContext();
    const page = await context.newPage();
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') refusals.push(message.text());
    });
    return { context, page, refusals };
  }

  const discover = (clientId: string) =>
    oidc.discovery(new URL(client.url), clientId, undefined, oidc.None(), { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] });

  test('device grant: the user opens the link, signs in with their Synapse password, approves, and the polling device gets its token', async () => {
    const frank = await person('frank', 'frank-password-1');
    const config = await discover('ma_shop_001');
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'user:read wallet:balance' });
    const polling = oidc.pollDeviceAuthorizationGrant(config, device);

    const { context, page, refusals } = await newPage();
    await page.goto(device.verification_uri_complete!);
    await page.locator('h1', { hasText: 'Sign in with your Matrix account' }).waitFor({ timeout: 15_000 });
    await page.fill('#username', 'frank');
    await page.fill('#password', 'frank-password-1');
    await page.click('button[type=submit]');
    await page.locator('h1', { hasText: 'Demo Shop wants to connect' }).waitFor({ timeout: 15_000 });
    expect(await page.textContent('body')).toContain(`Signed in as ${frank.userId}`);
    expect(await page.textContent('body')).toContain('See your wallet balance');
    await page.click('button[value=approve]');
    await page.locator('h1', { hasText: 'Device connected' }).waitFor({ timeout: 15_000 });
    expect(refusals).toEqual([]);
    await context.close();

    const tokens = await polling;
    expect(tokens).toMatchObject({ user_id: frank.userId, scope: 'user:read wallet:balance', wallet_id: expect.stringMatching(/^tw_/) });
    expect((await client.call('GET', '/api/v1/wallet/balance', { token: tokens.access_token })).status).toBe(200);
  }, 60_000);

  test('authorization code with PKCE: sign in, consent, and the redirect back with a code openid-client redeems', async () => {
    const grace = await person('grace', 'grace-password-1');
    const redirect = 'http://127.0.0.1:9/callback';
    const app = (await client.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Browser Shop', client_type: 'public', redirect_uris: [redirect], scopes: ['user:read', 'wallet:balance'], pre_approved_scopes: ['user:read'] },
    })).body as { client_id: string };
    const config = await discover(app.client_id);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'user:read wallet:balance',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });

    const { context, page, refusals } = await newPage();
    // The mini-app's redirect URI: answered here, so the test reads the URL the browser was sent to.
    await page.route(`${redirect}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'back in the mini-app' }));
    await page.goto(url.toString());
    await page.fill('#username', 'grace');
    await page.fill('#password', 'grace-password-1');
    await page.click('button[type=submit]');
    await page.locator('h1', { hasText: 'Browser Shop asks for access' }).waitFor({ timeout: 15_000 });
    await page.click('button[value=approve]');
    await page.waitForURL(`${redirect}**`);
    expect(refusals).toEqual([]);
    const callback = new URL(page.url());
    await context.close();

    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens).toMatchObject({ user_id: grace.userId, scope: 'user:read wallet:balance' });
  }, 60_000);
});

test('Synapse down during a transfer: the money moves, and the event arrives once Synapse is back, exactly once', async () => {
  const bobBefore = await available(client, bobWallet);
  await synapse.stop();
  const started = await initiate(client, aliceWallet, { recipient: bob.userId, amount: '2.00', room_id: room });
  const id = started.body.transfer_id as string;
  const confirmed = await confirm(client, aliceWallet, id);
  expect(confirmed.body.status).toBe('completed');
  expect(confirmed.body.event_id).toBeUndefined();
  expect(await available(client, bobWallet)).toBe(bobBefore + 2);

  synapse = await restartSynapse();
  const seen = await eventually(() => p2pEvents(bob, room, id), (events) => events.length > 0, 120_000);
  expect(seen).toHaveLength(1);
  const row = await eventually(
    () => db.pool.one(sql.type(z.object({ event_id: z.string().nullable() }))`SELECT event_id FROM p2p_transfers WHERE id = ${id}`),
    (r) => r.event_id !== null,
  );
  expect(row.event_id).toBe(seen[0]!.event_id);
  await new Promise((r) => setTimeout(r, 3000));
  expect(await p2pEvents(bob, room, id)).toHaveLength(1);
}, 240_000);

test('our server down while Synapse has transactions for it: after the restart each event is processed once', async () => {
  await api.stop();
  const sent: string[] = [];
  for (let i = 0; i < 3; i += 1) sent.push(await alice.send(room, 'm.tween.miniapp.launch', { miniapp_id: 'ma_demo', launch_source: 'chat_bubble', n: i }));
  await new Promise((r) => setTimeout(r, 1500)); // Synapse tries, fails, and backs off
  api = startApi();
  await api.ready;
  const rows = await eventually(
    () => db.pool.any(sql.type(z.object({ event_id: z.string(), outcome: z.string() }))`
      SELECT event_id, outcome FROM matrix_tween_events WHERE event_id = ANY(${sql.array(sent, 'text')})`),
    (r) => r.length === sent.length,
    120_000,
  );
  expect(rows.map((r) => r.event_id).sort()).toEqual([...sent].sort());
  expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['ignored']));
  // Each was handed to the dispatcher exactly once.
  for (const id of sent) expect(api.output().split(id).length - 1).toBe(1);
}, 240_000);
