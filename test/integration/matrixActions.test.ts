import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { expectError, newUserId } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * PROTO 4.16 as this server does it: a mini-app acts in Matrix through its own bot, for its user,
 * with the scopes the user granted, only in rooms the user is in and the bot was let into; never
 * the payments bot's events.
 */
let db: TestDatabase;
let hs: StubHomeserver;
let api: TestApi;
const BOT = '@ma_demo:tmcp.test';

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  api = await startTestApi(db, stubMatrixEnv(hs, 'app-actions'));
});
afterAll(async () => {
  await api?.close();
  await hs?.close();
  await db?.close();
});

const room = (members: string[]) => {
  const id = `!r${Math.random().toString(36).slice(2, 10)}:tmcp.test`;
  hs.replyFor('joined_members', id, { status: 200, body: { joined: Object.fromEntries(members.map((m) => [m, {}])) } });
  return id;
};
const send = (token: string, roomId: string, txnId: string, content: Record<string, unknown>) =>
  api.call('PUT', `/api/v1/matrix/rooms/${encodeURIComponent(roomId)}/send/${txnId}`, { token, body: content });

test("messaging:send: the app's bot sends for its user into a room both are in, once per txn_id", async () => {
  const alice = newUserId('alice');
  const token = await api.token(alice, ['messaging:send']);
  const shared = room([alice, BOT]);
  const first = await send(token, shared, 'msg-1', { msgtype: 'm.text', body: 'Your order has shipped' });
  expect(first.status).toBe(200);
  expect(first.body).toEqual({ event_id: expect.any(String), sender: BOT });
  const again = await send(token, shared, 'msg-1', { msgtype: 'm.text', body: 'Your order has shipped' });
  expect(again.body.event_id).toBe(first.body.event_id);
  const sent = hs.events().filter((e) => e.roomId === shared);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ type: 'm.room.message', userId: BOT, content: { msgtype: 'm.text', body: 'Your order has shipped', 'm.tween.sent_for': { user_id: alice, miniapp_id: 'ma_demo' } } });
  // PROTO 8.1.3's card is a message too.
  expect((await send(token, shared, 'card-1', { msgtype: 'm.tween.card', body: 'Tea', card: { type: 'product', title: 'Tea' } })).status).toBe(200);
  expect(hs.events().find((e) => e.content.msgtype === 'm.tween.card')?.content).toMatchObject({ miniapp_id: 'ma_demo', card: { title: 'Tea' } });

  // Not the payments bot's events, and not anyone else's words.
  expectError(await send(token, shared, 'fake', { msgtype: 'm.tween.payment', body: 'Payment completed' }), 400, 'INVALID_REQUEST', 'msgtype');
  expectError(await send(token, shared, 'forged', { msgtype: 'm.text', body: 'hi', 'm.tween.sent_for': { user_id: '@someone:tmcp.test' } }), 400, 'INVALID_REQUEST');
  // No edits: every user of the app posts through its bot, so an edit would rewrite another user's message.
  const edit = { msgtype: 'm.text', body: '* changed', 'm.relates_to': { rel_type: 'm.replace', event_id: first.body.event_id }, 'm.new_content': { msgtype: 'm.text', body: 'changed' } };
  expectError(await send(token, shared, 'edit', edit), 400, 'INVALID_REQUEST');
  const reply = await send(token, shared, 'reply', { msgtype: 'm.text', body: 'Tracking: 123', 'm.relates_to': { 'm.in_reply_to': { event_id: first.body.event_id } } });
  expect(reply.status).toBe(200);
  expect(hs.events().filter((e) => e.roomId === shared).map((e) => e.content.body)).not.toContain('* changed');
  expectError(await send(token, shared, 'big', { msgtype: 'm.text', body: 'x', padding: 'y'.repeat(17_000) }), 400, 'INVALID_REQUEST');
});

test('a room the user is not in, or the app was not let into, is refused, naming the bot to invite', async () => {
  const bob = newUserId('bob');
  const token = await api.token(bob, ['messaging:send', 'room:invite']);
  const botless = room([bob]);
  const refused = await send(token, botless, 'm1', { msgtype: 'm.text', body: 'hello' });
  expectError(refused, 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
  expect(refused.body.error.details.invite).toBe(BOT);
  expectError(await send(token, room([BOT, newUserId('carol')]), 'm2', { msgtype: 'm.text', body: 'hello' }), 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
  expectError(await api.call('POST', `/api/v1/matrix/rooms/${encodeURIComponent(botless)}/invite`, { token, body: { user_id: newUserId('dan') } }), 403, 'INSUFFICIENT_PERMISSIONS');
  expect(hs.events().filter((e) => e.roomId === botless)).toEqual([]);
});

test("room:create makes a private room of the app's bot with its user invited; others need room:invite", async () => {
  const erin = newUserId('erin');
  const friend = newUserId('frank');
  const created = await api.call('POST', '/api/v1/matrix/rooms', { token: await api.token(erin, ['room:create', 'room:invite']), body: { name: 'Book club', invite: [friend] } });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ room_id: expect.stringMatching(/^!/), creator: BOT, invited: [erin, friend] });
  const call = hs.calls.filter((c) => c.kind === 'createRoom').at(-1)!;
  expect(call).toMatchObject({ userId: BOT, body: { preset: 'private_chat', name: 'Book club', invite: [erin, friend] } });
  const noInvite = await api.token(erin, ['room:create']);
  expectError(await api.call('POST', '/api/v1/matrix/rooms', { token: noInvite, body: { name: 'Party', invite: [friend] } }), 403, 'INSUFFICIENT_PERMISSIONS', 'invite');
  expect((await api.call('POST', '/api/v1/matrix/rooms', { token: noInvite, body: { name: 'Solo' } })).body.invited).toEqual([erin]);
});

test("room:invite: the app's bot invites into a room it and the user are in; the homeserver's refusal is told as such", async () => {
  const gina = newUserId('gina');
  const token = await api.token(gina, ['room:invite']);
  const shared = room([gina, BOT]);
  const hal = newUserId('hal');
  const invited = await api.call('POST', `/api/v1/matrix/rooms/${encodeURIComponent(shared)}/invite`, { token, body: { user_id: hal } });
  expect(invited.body).toEqual({ room_id: shared, invited: hal, by: BOT });
  expect(hs.calls.filter((c) => c.kind === 'invite').at(-1)).toMatchObject({ userId: BOT, args: [shared], body: { user_id: hal } });
  hs.replyTo('invite', { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'banned' } }, { status: 502, body: {} });
  expectError(await api.call('POST', `/api/v1/matrix/rooms/${encodeURIComponent(shared)}/invite`, { token, body: { user_id: hal } }), 403, 'INSUFFICIENT_PERMISSIONS');
  expectError(await api.call('POST', `/api/v1/matrix/rooms/${encodeURIComponent(shared)}/invite`, { token, body: { user_id: hal } }), 503, 'SERVICE_UNAVAILABLE');
  expectError(await api.call('POST', `/api/v1/matrix/rooms/${encodeURIComponent(shared)}/invite`, { token, body: { user_id: 'hal' } }), 400, 'INVALID_REQUEST', 'user_id');
});
