import { randomBytes } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { WorkflowFailedError } from '@temporalio/client';
import { databaseNow, replaceJoinedMembers } from '../../src/db/matrix';
import { inviteWorkflowId } from '../../src/domain/matrix';
import { ensureSystemBots } from '../../src/matrix/startup';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { confirm, expectError, initiate, walletUser, type TestUser } from '../helpers/p2p';
import { testKeys } from '../helpers/keys';
import { startApiProcess } from '../helpers/serverProcess';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';
import { eventually } from '../helpers/eventually';
import { freePort } from '../setup/globalSetup';

const SERVER = 'tmcp.test';
const AS_TOKEN = 'as-token-appservice-test-0123456789';
const HS_TOKEN = 'hs-token-appservice-test-0123456789';
const PAYMENTS = `@_tmcp_payments:${SERVER}`;

let db: TestDatabase;
let hs: StubHomeserver;
let api: TestApi;
let worker: TestWorker;
let matrixEnv: { TEMPORAL_TASK_QUEUE: string } & Record<string, string>;
let taskQueue: string;

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  taskQueue = uniqueTaskQueue('appservice');
  worker = await startTestWorker(db, { taskQueue, matrix: { homeserverUrl: hs.url, asToken: AS_TOKEN, serverName: SERVER } });
  matrixEnv = { TEMPORAL_TASK_QUEUE: taskQueue, MATRIX_HOMESERVER_URL: hs.url, MATRIX_AS_TOKEN: AS_TOKEN, MATRIX_HS_TOKEN: HS_TOKEN, MATRIX_SERVER_NAME: SERVER };
  api = await startTestApi(db, matrixEnv);
});
afterAll(async () => {
  await api.close();
  await worker.stop();
  await hs.close();
  await db.close();
});

const auth = { authorization: `Bearer ${HS_TOKEN}` };
const as = (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}, target = api) =>
  target.call(method, path, { body: options.body, headers: options.headers ?? auth });

let seq = 0;
const txnId = () => `txn-${randomBytes(4).toString('hex')}-${(seq += 1)}`;
const eventId = () => `$ev${randomBytes(6).toString('hex')}:${SERVER}`;
const newRoom = () => `!room${randomBytes(4).toString('hex')}:${SERVER}`;

function member(roomId: string, userId: string, membership: string, sender = userId) {
  return { type: 'm.room.member', room_id: roomId, sender, state_key: userId, event_id: eventId(), content: { membership }, origin_server_ts: Date.now() };
}

function put(events: unknown[], id = txnId(), target = api) {
  return as('PUT', `/_matrix/app/v1/transactions/${encodeURIComponent(id)}`, { body: { events } }, target);
}

async function membershipOf(roomId: string, userId: string): Promise<string | null> {
  return db.pool.maybeOneFirst(sql.type(z.object({ membership: z.string() }))`
    SELECT membership FROM room_members WHERE room_id = ${roomId} AND user_id = ${userId}`);
}


/** The invite's saga, once the API has started it after the transaction committed. */
async function inviteSaga(inviteEventId: string) {
  const handle = api.temporal.client.workflow.getHandle(inviteWorkflowId(inviteEventId));
  await eventually(
    () => handle.describe().then(() => true, () => false),
    (started) => started,
  );
  return handle;
}

describe('hs_token', () => {
  // Every row has three items: jest takes a test function with more parameters than the row for one that wants `done`.
  const routes: [string, string, unknown][] = [
    ['PUT', '/_matrix/app/v1/transactions/t-auth', { events: [] }],
    ['GET', `/_matrix/app/v1/users/${encodeURIComponent(PAYMENTS)}`, undefined],
    ['GET', `/_matrix/app/v1/rooms/${encodeURIComponent(`#_ma_demo:${SERVER}`)}`, undefined],
    ['POST', '/_matrix/app/v1/ping', {}],
    ['GET', '/_matrix/app/v1/thirdparty/protocol/tween', undefined],
    ['GET', '/_matrix/app/v1/thirdparty/user/tween', undefined],
    ['PUT', '/transactions/t-auth-legacy', { events: [] }],
    ['GET', `/users/${encodeURIComponent(PAYMENTS)}`, undefined],
    ['GET', '/_matrix/app/v1/no-such-route', undefined],
  ];

  it.each(routes)('%s %s answers 401 without a token and 403 with a wrong one', async (method, path, body) => {
    const none = await as(method, path, { body, headers: {} });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ errcode: 'M_UNAUTHORIZED', error: 'Missing hs_token' });
    const wrong = await as(method, path, { body, headers: { authorization: 'Bearer not-the-hs-token' } });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const wrongQuery = await as(method, `${path}?access_token=not-the-hs-token`, { body, headers: {} });
    expect(wrongQuery.status).toBe(403);
  });

  it('takes the legacy access_token parameter, and refuses a header and a parameter that disagree', async () => {
    expect((await as('POST', `/_matrix/app/v1/ping?access_token=${HS_TOKEN}`, { body: {}, headers: {} })).status).toBe(200);
    expect((await as('POST', `/_matrix/app/v1/ping?access_token=${HS_TOKEN}`, { body: {} })).status).toBe(200);
    const disagree = await as('POST', '/_matrix/app/v1/ping?access_token=other-token', { body: {} });
    expect(disagree.status).toBe(403);
    expect(disagree.body.errcode).toBe('M_FORBIDDEN');
  });

  it('never writes the tokens into the logs', async () => {
    await as('POST', `/_matrix/app/v1/ping?access_token=${HS_TOKEN}`, { body: {}, headers: {} });
    const logs = api.rawLogs.join('\n');
    expect(logs).not.toContain(HS_TOKEN);
    expect(logs).not.toContain(AS_TOKEN);
  });
});

describe('routes', () => {
  it('answers ping with {}', async () => {
    const res = await as('POST', '/_matrix/app/v1/ping', { body: { transaction_id: 'ping-1' } });
    expect(res).toMatchObject({ status: 200, body: {} });
  });

  it('answers an unknown route 404 M_UNRECOGNIZED and a known route with the wrong method 405 M_UNRECOGNIZED', async () => {
    expect(await as('GET', '/_matrix/app/v1/nothing/here')).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(await as('GET', '/_matrix/app/v2/transactions/x')).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(await as('GET', '/_matrix/app/v1/transactions/x')).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(await as('GET', '/_matrix/app/v1/ping')).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(await as('DELETE', `/_matrix/app/v1/users/${encodeURIComponent(PAYMENTS)}`)).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
  });

  it('answers a malformed transaction 400 M_BAD_JSON', async () => {
    expect(await as('PUT', '/_matrix/app/v1/transactions/bad-1', { body: { nope: true } })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    const raw = await api.call('PUT', '/_matrix/app/v1/transactions/bad-2', { raw: '{"events": [', headers: auth });
    expect(raw).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
  });

  it('describes the tween protocol and finds nothing to look up in it', async () => {
    const protocol = await as('GET', '/_matrix/app/v1/thirdparty/protocol/tween');
    expect(protocol.status).toBe(200);
    expect(protocol.body).toMatchObject({ user_fields: [], location_fields: [], field_types: {}, instances: [{ network_id: 'tween', fields: {} }] });
    expect(typeof protocol.body.icon).toBe('string');
    expect(await as('GET', '/_matrix/app/v1/thirdparty/protocol/irc')).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(await as('GET', '/_matrix/app/v1/thirdparty/user/tween?name=x')).toMatchObject({ status: 200, body: [] });
    expect(await as('GET', '/_matrix/app/v1/thirdparty/location/tween')).toMatchObject({ status: 200, body: [] });
    expect(await as('GET', '/_matrix/app/v1/thirdparty/user/irc')).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(await as('GET', `/_matrix/app/v1/thirdparty/user?userid=${encodeURIComponent(PAYMENTS)}`)).toMatchObject({ status: 200, body: [] });
    expect(await as('GET', '/_matrix/app/v1/thirdparty/location?alias=%23x%3Ay')).toMatchObject({ status: 200, body: [] });
  });
});

describe('transactions', () => {
  it('applies a transaction once, also through another API instance on the same database (a restart)', async () => {
    const room = newRoom();
    const id = txnId();
    const events = [member(room, '@alice:tmcp.test', 'join'), { type: 'm.tween.x', room_id: room, sender: '@alice:tmcp.test', event_id: eventId(), content: {} }];
    expect(await put(events, id)).toMatchObject({ status: 200, body: {} });
    expect(await membershipOf(room, '@alice:tmcp.test')).toBe('join');
    // Alice leaves meanwhile; a redelivery of the first transaction must not make her a member again.
    await put([member(room, '@alice:tmcp.test', 'leave')]);
    expect(await put(events, id)).toMatchObject({ status: 200, body: {} });
    const restarted = await startTestApi(db, matrixEnv);
    try {
      expect(await put(events, id, restarted)).toMatchObject({ status: 200, body: {} });
      expect(await as('PUT', `/transactions/${id}`, { body: { events } }, restarted)).toMatchObject({ status: 200 });
    } finally {
      await restarted.close();
    }
    expect(await membershipOf(room, '@alice:tmcp.test')).toBe('leave');
    expect(restarted.logs.filter((l) => l.msg === 'AS transaction repeated: already applied')).toHaveLength(2);
  });

  it('applies a transaction id that comes back with other events (Synapse on SQLite reuses ids after a restart)', async () => {
    const room = newRoom();
    const id = txnId();
    await put([member(room, '@alice:tmcp.test', 'join')], id);
    await put([member(room, '@bob:tmcp.test', 'join')], id);
    expect(await membershipOf(room, '@bob:tmcp.test')).toBe('join');
  });

  it('applies many deliveries of one transaction at once exactly once', async () => {
    const room = newRoom();
    const id = txnId();
    const event = { type: 'm.tween.miniapp.launch', room_id: room, sender: '@alice:tmcp.test', event_id: eventId(), content: { miniapp_id: 'ma_demo' } };
    const results = await Promise.all(Array.from({ length: 8 }, () => put([event], id)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const rows = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM matrix_tween_events WHERE room_id = ${room}`);
    expect(rows).toBe(1);
  });

  it('rolls everything back when processing fails, so the retried transaction applies once', async () => {
    const room = newRoom();
    const poisoned = '!poisoned:tmcp.test';
    const id = txnId();
    const events = [member(room, '@alice:tmcp.test', 'join'), member(room, PAYMENTS, 'invite', '@alice:tmcp.test'), member(poisoned, '@bob:tmcp.test', 'join')];
    // The database fails on the last event, after the first two were applied.
    await db.pool.query(sql.unsafe`
      CREATE FUNCTION fail_poisoned_room() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.room_id = '!poisoned:tmcp.test' THEN RAISE EXCEPTION 'disk full (test)'; END IF; RETURN NEW; END $$`);
    await db.pool.query(sql.unsafe`CREATE TRIGGER fail_poisoned_room BEFORE INSERT ON matrix_rooms FOR EACH ROW EXECUTE FUNCTION fail_poisoned_room()`);
    try {
      const failed = await put(events, id);
      expect(failed.status).toBeGreaterThanOrEqual(500);
      expect(failed.body.errcode).toBe('M_UNKNOWN');
    } finally {
      await db.pool.query(sql.unsafe`DROP TRIGGER fail_poisoned_room ON matrix_rooms`);
      await db.pool.query(sql.unsafe`DROP FUNCTION fail_poisoned_room()`);
    }
    expect(await membershipOf(room, '@alice:tmcp.test')).toBeNull();
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM matrix_invite_outbox WHERE room_id = ${room}`)).toBe(false);
    // What the invite saga reads once the bot has joined (it runs after the retry succeeds).
    hs.replyFor('joined_members', room, { status: 200, body: { joined: { '@alice:tmcp.test': {}, [PAYMENTS]: {} } } });
    expect(await put(events, id)).toMatchObject({ status: 200 });
    expect(await membershipOf(room, '@alice:tmcp.test')).toBe('join');
    expect(await membershipOf(room, PAYMENTS)).toBe('invite');
    expect(await membershipOf(poisoned, '@bob:tmcp.test')).toBe('join');
    expect(await (await inviteSaga(events[1]!.event_id)).result()).toEqual({ joined: true, membersRead: true });
  });

  it('accepts ephemeral events and ignores them', async () => {
    const res = await as('PUT', `/_matrix/app/v1/transactions/${txnId()}`, {
      body: { events: [], ephemeral: [{ type: 'm.typing', room_id: newRoom(), content: { user_ids: ['@alice:tmcp.test'] } }] },
    });
    expect(res).toMatchObject({ status: 200, body: {} });
  });

  it('skips a malformed event and applies the rest', async () => {
    const room = newRoom();
    expect(await put([{ type: 'm.room.member' }, member(room, '@bob:tmcp.test', 'join')])).toMatchObject({ status: 200 });
    expect(await membershipOf(room, '@bob:tmcp.test')).toBe('join');
  });

  it('records m.tween.* events once and hands them to their handler', async () => {
    const room = newRoom();
    const ours = { type: 'm.tween.wallet.p2p', room_id: room, sender: PAYMENTS, event_id: eventId(), content: { transfer_id: 'p2p_x' } };
    const forged = { type: 'm.tween.wallet.p2p', room_id: room, sender: '@mallory:tmcp.test', event_id: eventId(), content: { transfer_id: 'p2p_y', amount: 1e6 } };
    const unknown = { type: 'm.tween.something.new', room_id: room, sender: '@alice:tmcp.test', event_id: eventId(), content: {} };
    const text = { type: 'm.room.message', room_id: room, sender: '@alice:tmcp.test', event_id: eventId(), content: { msgtype: 'm.text', body: 'hi' } };
    expect(await put([ours, forged, unknown, text])).toMatchObject({ status: 200 });
    expect(await put([ours])).toMatchObject({ status: 200 }); // the same event in a later transaction
    const rows = await db.pool.any(sql.type(z.object({ event_id: z.string(), outcome: z.string() }))`
      SELECT event_id, outcome FROM matrix_tween_events WHERE room_id = ${room} ORDER BY received_at, event_id`);
    expect(Object.fromEntries(rows.map((r) => [r.event_id, r.outcome]))).toEqual({
      [ours.event_id]: 'ours',
      [forged.event_id]: 'forged',
      [unknown.event_id]: 'ignored',
    });
    expect(api.logs.some((l) => l.msg === 'payment event not sent by the payments bot' && l.sender === '@mallory:tmcp.test')).toBe(true);
  });
});

describe('bots and invites', () => {
  it('joins as the invited bot, through a saga of its own', async () => {
    const room = newRoom();
    const invite = member(room, PAYMENTS, 'invite', '@alice:tmcp.test');
    hs.replyFor('joined_members', room, { status: 200, body: { joined: { [PAYMENTS]: {}, '@alice:tmcp.test': {} } } });
    expect(await put([invite])).toMatchObject({ status: 200 });
    const handle = await inviteSaga(invite.event_id);
    expect(await handle.result()).toEqual({ joined: true, membersRead: true });
    // It joins, then reads who joined before it (Synapse sends the room's events only from now on).
    expect(hs.calls.filter((c) => c.args[0] === room)).toMatchObject([
      { kind: 'join', userId: PAYMENTS, authorization: `Bearer ${AS_TOKEN}` },
      { kind: 'joined_members', userId: PAYMENTS },
    ]);
    expect(await membershipOf(room, '@alice:tmcp.test')).toBe('join');
    expect(await (await handle.describe()).staticSummary()).toBe(`${PAYMENTS} joins ${room}, invited by @alice:tmcp.test`);
    await recordHistory(api.temporal.client, inviteWorkflowId(invite.event_id), 'invite', 'joined');
  });

  it('never joins for users it does not run, nor rooms it was not invited to', async () => {
    const room = newRoom();
    const before = hs.calls.length;
    expect(
      await put([
        member(room, '@ma_unregistered:tmcp.test', 'invite', '@alice:tmcp.test'),
        member(room, '@bob:tmcp.test', 'invite', '@alice:tmcp.test'),
        member(room, '@alice:tmcp.test', 'join'),
        { type: 'm.room.message', room_id: room, sender: '@alice:tmcp.test', event_id: eventId(), content: { body: 'hi' } },
      ]),
    ).toMatchObject({ status: 200 });
    await new Promise((r) => setTimeout(r, 500));
    expect(hs.calls.slice(before).filter((c) => c.kind === 'join')).toEqual([]);
  });

  it('fails the saga with the reason when the join is refused, without retrying it', async () => {
    const room = newRoom();
    hs.replyFor('join', room, { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'You are not invited to this room.' } });
    const invite = member(room, `@ma_demo:${SERVER}`, 'invite', '@alice:tmcp.test');
    expect(await put([invite])).toMatchObject({ status: 200 });
    const failed = await (await inviteSaga(invite.event_id)).result().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect((failed as WorkflowFailedError).cause).toMatchObject({ type: 'MATRIX_JOIN_REFUSED', message: expect.stringContaining('not invited') });
    expect(hs.calls.filter((c) => c.args[0] === room).map((c) => c.kind)).toEqual(['join']);
    await recordHistory(api.temporal.client, inviteWorkflowId(invite.event_id), 'invite', 'refused');
  });

  it('registers a bot of its namespace when the homeserver asks about it, with its display name', async () => {
    const before = hs.calls.length;
    expect(await as('GET', `/_matrix/app/v1/users/${encodeURIComponent(PAYMENTS)}`)).toMatchObject({ status: 200, body: {} });
    expect(hs.calls.slice(before)).toMatchObject([
      { kind: 'register', body: { type: 'm.login.application_service', username: '_tmcp_payments' } },
      { kind: 'profile', args: [PAYMENTS, 'displayname'], userId: PAYMENTS, body: { displayname: 'Tween Payments' } },
    ]);
    const app = hs.calls.length;
    expect(await as('GET', `/users/${encodeURIComponent(`@ma_demo:${SERVER}`)}`)).toMatchObject({ status: 200 });
    expect(hs.calls.slice(app)[1]).toMatchObject({ kind: 'profile', body: { displayname: 'Demo Mini-App' } });
  });

  it('treats a bot the homeserver already has as registered', async () => {
    hs.replyTo('register', { status: 400, body: { errcode: 'M_USER_IN_USE', error: 'User ID already taken.' } });
    expect(await as('GET', `/_matrix/app/v1/users/${encodeURIComponent(`@_tmcp_updater:${SERVER}`)}`)).toMatchObject({ status: 200 });
    expect(hs.calls.at(-1)).toMatchObject({ kind: 'profile', body: { displayname: 'Tween Mini-App Updater' } });
  });

  it('answers 404 M_NOT_FOUND for users it does not run', async () => {
    for (const userId of ['@alice:tmcp.test', '@ma_unregistered:tmcp.test', '@_tmcp_payments:other.server', '@_tmcp_other:tmcp.test']) {
      expect(await as('GET', `/_matrix/app/v1/users/${encodeURIComponent(userId)}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    }
  });

  it("creates a mini-app's room for its alias, as the mini-app's bot", async () => {
    for (const [alias, localpart] of [
      [`#_ma_demo:${SERVER}`, '_ma_demo'],
      [`#_ma_shop_001-news:${SERVER}`, '_ma_shop_001-news'],
    ] as const) {
      const before = hs.calls.length;
      expect(await as('GET', `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`)).toMatchObject({ status: 200, body: {} });
      const created = hs.calls.slice(before).find((c) => c.kind === 'createRoom');
      expect(created).toMatchObject({ userId: `@${localpart.split(/[-.]/)[0]!.slice(1)}:${SERVER}`, body: { room_alias_name: localpart } });
    }
    hs.replyTo('createRoom', { status: 400, body: { errcode: 'M_ROOM_IN_USE', error: 'Room alias already taken' } });
    expect(await as('GET', `/_matrix/app/v1/rooms/${encodeURIComponent(`#_ma_demo:${SERVER}`)}`)).toMatchObject({ status: 200 });
    for (const alias of [`#_ma_unknown:${SERVER}`, `#_ma_demo_extra:${SERVER}`, `#general:${SERVER}`, `#_ma_demo:other.server`]) {
      expect(await as('GET', `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    }
  });
});

describe('room membership for wallets', () => {
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const shared = newRoom();
  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([
      walletUser(api, { name: 'alice', fund: '50.00' }),
      walletUser(api, { name: 'bob' }),
      walletUser(api, { name: 'carol' }),
    ]);
    // Alice and Bob are in the room before the bot is invited: the server learns of them by reading
    // the member list once the bot has joined.
    hs.replyFor('joined_members', shared, { status: 200, body: { joined: { [PAYMENTS]: {}, [alice.userId]: {}, [bob.userId]: {} } } });
    const invite = member(shared, PAYMENTS, 'invite', alice.userId);
    await put([invite]);
    expect(await (await inviteSaga(invite.event_id)).result()).toEqual({ joined: true, membersRead: true });
    await put([member(shared, PAYMENTS, 'join')]);
  });

  const resolve = (who: TestUser, userId: string, roomId?: string) =>
    api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(userId)}${roomId ? `?room_id=${encodeURIComponent(roomId)}` : ''}`, { token: who.token });

  it('resolves only users the caller shares a room with', async () => {
    expect((await resolve(alice, bob.userId)).body).toMatchObject({ user_id: bob.userId, wallet_id: bob.walletId });
    expect((await resolve(alice, alice.userId)).status).toBe(200);
    const refused = await resolve(alice, carol.userId);
    expectError(refused, 403, 'INSUFFICIENT_PERMISSIONS');
    // Refused before the wallet is looked up: a stranger learns nothing, not even that there is no wallet.
    expectError(await resolve(alice, '@nobody:tmcp.test'), 403, 'INSUFFICIENT_PERMISSIONS');
    const batch = await api.call('POST', '/api/v1/wallet/resolve/batch', { token: alice.token, body: { user_ids: [bob.userId, carol.userId] } });
    expect(batch.body).toMatchObject({
      results: [{ user_id: bob.userId, wallet_id: bob.walletId }, { user_id: carol.userId, error: { code: 'INSUFFICIENT_PERMISSIONS' } }],
      resolved_count: 1,
      total_count: 2,
    });
  });

  it('narrows to room_id, and forgets a shared room once someone leaves it', async () => {
    expect((await resolve(alice, bob.userId, shared)).status).toBe(200);
    const other = newRoom();
    await put([member(other, PAYMENTS, 'join'), member(other, alice.userId, 'join'), member(other, carol.userId, 'join')]);
    hs.replyFor('joined_members', other, { status: 200, body: { joined: { [PAYMENTS]: {}, [alice.userId]: {}, [carol.userId]: {} } } });
    expectError(await resolve(alice, bob.userId, other), 403, 'INSUFFICIENT_PERMISSIONS');
    expect((await resolve(alice, carol.userId, other)).status).toBe(200);
    await put([member(other, carol.userId, 'leave')]);
    expectError(await resolve(alice, carol.userId), 403, 'INSUFFICIENT_PERMISSIONS');
  });

  it('asks the homeserver, as our bot, about a room it has never seen', async () => {
    const unseen = newRoom();
    hs.replyFor('joined_members', unseen, { status: 200, body: { joined: { [PAYMENTS]: {}, [alice.userId]: {}, [carol.userId]: {} } } });
    const before = hs.calls.length;
    expect((await resolve(alice, carol.userId, unseen)).status).toBe(200);
    expect(hs.calls.slice(before)).toMatchObject([{ kind: 'joined_members', args: [unseen], userId: PAYMENTS }]);
    // Read once: from now on the room's transactions keep it current.
    expect((await resolve(alice, carol.userId, unseen)).status).toBe(200);
    expect(hs.calls.slice(before)).toHaveLength(1);

    const closed = newRoom();
    hs.replyFor('joined_members', closed, { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } });
    expectError(await resolve(alice, carol.userId, closed), 403, 'INSUFFICIENT_PERMISSIONS');

    // Our bot is kicked: we no longer see the room, so what we held of it no longer counts.
    expect((await resolve(alice, carol.userId)).status).toBe(200);
    await put([member(unseen, PAYMENTS, 'leave', alice.userId)]);
    expectError(await resolve(alice, carol.userId), 403, 'INSUFFICIENT_PERMISSIONS');
    hs.replyFor('joined_members', unseen, { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } });
    expectError(await resolve(alice, carol.userId, unseen), 403, 'INSUFFICIENT_PERMISSIONS');
  });

  it('keeps a membership event newer than the member list read from the homeserver', async () => {
    const racy = newRoom();
    const before = await databaseNow(db.pool);
    await put([member(racy, carol.userId, 'leave')]);
    // A list read before Carol's leave was applied still names her: the leave wins.
    await replaceJoinedMembers(db.pool, racy, [alice.userId, carol.userId], before);
    expect(await membershipOf(racy, carol.userId)).toBe('leave');
    expect(await membershipOf(racy, alice.userId)).toBe('join');
    await replaceJoinedMembers(db.pool, racy, [alice.userId], await databaseNow(db.pool));
    expect(await membershipOf(racy, alice.userId)).toBe('join');
    await replaceJoinedMembers(db.pool, racy, [], await databaseNow(db.pool));
    expect(await membershipOf(racy, alice.userId)).toBe('leave');
  });

  it('lets a transfer name only a room both parties are joined to', async () => {
    const started = await initiate(api, alice, { recipient: bob.userId, amount: '1.00', room_id: shared });
    expect(started.status).toBe(201);
    expect((await confirm(api, alice, started.body.transfer_id)).body.status).toBe('completed');
    const lonely = newRoom();
    await put([member(lonely, PAYMENTS, 'join'), member(lonely, alice.userId, 'join')]);
    hs.replyFor('joined_members', lonely, { status: 200, body: { joined: { [PAYMENTS]: {}, [alice.userId]: {} } } });
    const refused = await initiate(api, alice, { recipient: bob.userId, amount: '1.00', room_id: lonely });
    expectError(refused, 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
    expect(refused.body.error.message).toContain('recipient');
    const notMine = await initiate(api, carol, { recipient: bob.userId, amount: '1.00', room_id: shared });
    expectError(notMine, 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
  });
});

describe('wallet privacy at initiate', () => {
  it('answers a recipient the sender shares no room with exactly as one without a wallet', async () => {
    const [alice, dave] = await Promise.all([walletUser(api, { name: 'alice', fund: '5.00' }), walletUser(api, { name: 'dave' })]);
    const room = newRoom();
    hs.replyFor('joined_members', room, { status: 200, body: { joined: { [PAYMENTS]: {}, [alice.userId]: {} } } });
    await put([member(room, PAYMENTS, 'join'), member(room, alice.userId, 'join')]);
    // A check naming the room reads its member list; from then on its events keep it current.
    expect((await api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(alice.userId)}?room_id=${encodeURIComponent(room)}`, { token: alice.token })).status).toBe(200);
    const answer = async (recipient: string) => {
      const res = await initiate(api, alice, { recipient, amount: '1.00' });
      const { timestamp, request_id, ...error } = res.body.error ?? {};
      return { status: res.status, error: JSON.stringify(error).replaceAll(recipient, '<recipient>'), stamped: Boolean(timestamp && request_id) };
    };
    // Dave has a wallet but shares no room with Alice; @nobody has none.
    const stranger = await answer(dave.userId);
    expect(stranger).toMatchObject({ status: 400, stamped: true });
    expect(JSON.parse(stranger.error)).toMatchObject({ code: 'RECIPIENT_NO_WALLET', recipient: '<recipient>' });
    expect(await answer('@nobody:tmcp.test')).toEqual(stranger);
    expect(JSON.stringify(stranger)).not.toContain(dave.walletId);

    // Once they share a room, Dave is an ordinary recipient.
    await put([member(room, dave.userId, 'join')]);
    expect((await initiate(api, alice, { recipient: dave.userId, amount: '1.00' })).status).toBe(201);
  });
});

describe('bots at start', () => {
  it('keeps retrying while the homeserver is down, and sets the bots up once it answers', async () => {
    const later = await startStubHomeserver();
    const port = Number(new URL(later.url).port);
    await later.close();
    const logs: Record<string, unknown>[] = [];
    const log = { info: (o: Record<string, unknown>, msg: string) => logs.push({ ...o, msg }), warn: (o: Record<string, unknown>, msg: string) => logs.push({ ...o, msg }) };
    const bots = ensureSystemBots({ homeserverUrl: `http://127.0.0.1:${port}`, asToken: AS_TOKEN, serverName: SERVER }, 'tween-miniapps', log as never);
    try {
      await eventually(async () => logs.length, (n) => n >= 2, 10_000);
      expect(logs.slice(0, 2)).toMatchObject([
        { msg: 'Matrix bots not set up yet; retrying', retry_in_ms: 1000 },
        { msg: 'Matrix bots not set up yet; retrying', retry_in_ms: 2000 },
      ]);
      const up = await startStubHomeserver({ port });
      try {
        await bots.ready;
        const names = up.calls.filter((c) => c.kind === 'profile').map((c) => c.body?.displayname);
        expect(names).toEqual(['TMCP Bot', 'Tween Payments', 'Tween Mini-App Updater']);
        // Then the homeserver is asked to ping us, which also flushes what it held back.
        expect(up.calls.at(-1)).toMatchObject({ kind: 'ping', args: ['tween-miniapps'], authorization: `Bearer ${AS_TOKEN}` });
        expect(logs.at(-1)).toMatchObject({ msg: 'the homeserver reaches us', duration_ms: 1 });
      } finally {
        await up.close();
      }
    } finally {
      bots.stop();
    }
  }, 30_000);
});

describe('the API process (src/api.ts)', () => {
  const apiProcess = async (port: number, env: { TEMPORAL_TASK_QUEUE: string } & Record<string, string>) =>
    startApiProcess(port, { ...env, DATABASE_URL: db.url, TEP_KEYS_FILE: (await testKeys()).file, ADMIN_TOKEN });

  it('serves while the homeserver is down, and keeps trying to set up the bots', async () => {
    const closed = await startStubHomeserver();
    const url = closed.url;
    await closed.close();
    const port = await freePort();
    const proc = await apiProcess(port, { ...matrixEnv, MATRIX_HOMESERVER_URL: url });
    try {
      await proc.ready;
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      await eventually(async () => proc.output(), (out) => out.split('Matrix bots not set up yet; retrying').length > 2, 10_000);
      expect(proc.output()).not.toContain('Matrix is off');
    } finally {
      await proc.stop();
    }
  });

  it('says Matrix is off without a homeserver', async () => {
    const proc = await apiProcess(await freePort(), { TEMPORAL_TASK_QUEUE: taskQueue });
    try {
      await proc.ready;
      await eventually(async () => proc.output(), (out) => out.includes('Matrix is off'), 10_000);
    } finally {
      await proc.stop();
    }
  });
});

describe('bot avatars', () => {
  it('gives a bot the configured avatar when it is set up', async () => {
    const withAvatar = await startTestApi(db, { ...matrixEnv, MATRIX_BOT_AVATAR_URL: 'mxc://tmcp.test/payments' });
    try {
      const before = hs.calls.length;
      expect(await as('GET', `/_matrix/app/v1/users/${encodeURIComponent(PAYMENTS)}`, {}, withAvatar)).toMatchObject({ status: 200 });
      expect(hs.calls.slice(before).filter((c) => c.kind === 'profile')).toMatchObject([
        { args: [PAYMENTS, 'displayname'], body: { displayname: 'Tween Payments' } },
        { args: [PAYMENTS, 'avatar_url'], body: { avatar_url: 'mxc://tmcp.test/payments' } },
      ]);
      expect((await as('GET', '/_matrix/app/v1/thirdparty/protocol/tween', {}, withAvatar)).body.icon).toBe('mxc://tmcp.test/payments');
    } finally {
      await withAvatar.close();
    }
  });
});

describe('the API without Matrix', () => {
  it('refuses every AS request, and does not check rooms', async () => {
    const off = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
    try {
      expect(await as('POST', '/_matrix/app/v1/ping', { body: {} }, off)).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const dave = await walletUser(off, { name: 'dave' });
      const erin = await walletUser(off, { name: 'erin' });
      expect((await off.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(erin.userId)}`, { token: dave.token })).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
