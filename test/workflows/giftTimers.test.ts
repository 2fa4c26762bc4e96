import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'slonik';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { TMCP_STATUS } from '../../src/domain/searchAttributes';
import { recordHistory } from '../helpers/histories';
import { available, expectError, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * A gift's life on the time-skipping server with Matrix on (a stand-in homeserver): the room
 * checks, the room's events, and the expiry that gives the unopened money back.
 */
let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
const SERVER = 'tmcp.test';
const PAYMENTS = `@_tmcp_payments:${SERVER}`;
beforeAll(async () => {
  hs = await startStubHomeserver();
  const matrixEnv = stubMatrixEnv(hs, 'gifttimers');
  stack = await startTimeSkippingStack('gift-timers', { matrix: { homeserverUrl: hs.url, asToken: matrixEnv.MATRIX_AS_TOKEN!, serverName: SERVER } });
  ({ env, db } = stack);
  api = await startTestApi(db, { ...matrixEnv, TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue }, { temporal: stack.temporal });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.stop();
  await hs?.close();
});

/** A room whose members the stand-in homeserver lists (the server reads it once, then keeps it). */
function room(name: string, members: string[]): string {
  const roomId = `!${name}:${SERVER}`;
  hs.replyFor('joined_members', roomId, { status: 200, body: { joined: Object.fromEntries(members.map((m) => [m, {}])) } });
  return roomId;
}

const escrow = (giftId: string) => db.pool.oneFirst(sql.type(z.object({ b: z.bigint() }))`SELECT coalesce(sum(balance), 0)::bigint AS b FROM accounts WHERE kind = 'escrow' AND owner = ${giftId}`);
const create = (from: TestUser, body: Record<string, unknown>) =>
  api.call('POST', '/api/v1/wallet/gift/create', { token: from.token, body: { type: 'group', currency: 'USD', idempotency_key: `g-${Math.random()}`, ...pinProof(), ...body } });
const open = (who: TestUser, id: string) => api.call('POST', `/api/v1/wallet/gift/${id}/open`, { token: who.token, body: {} });

test('expiry gives what nobody opened back to the sender, and the room hears of each step', async () => {
  const sender = await walletUser(api, { name: 'ann', fund: '50.00' });
  const [b, c, d] = await Promise.all(['bea', 'cal', 'dee'].map((name) => walletUser(api, { name, pin: false })));
  const roomId = room('expiring', [sender.userId, b!.userId, c!.userId, d!.userId, PAYMENTS]);
  const created = await create(sender, { room_id: roomId, total_amount: '9.00', count: 3, distribution: 'equal', message: 'Cheers', expires_in_seconds: 3600 });
  expect(created.status).toBe(201);
  const id = created.body.gift_id as string;
  expect(created.body.event_id).toMatch(/^\$stub/);
  expect((await open(b!, id)).body.amount_received).toBe(3);
  await env.sleep(3_601_000);
  const result = await env.client.workflow.getHandle(`gift-${id}`).result();
  expect(result).toMatchObject({ status: 'expired', refundedMinor: '600', remaining: 2 });
  expect(await available(api, sender)).toBe(47);
  expect(await escrow(id)).toBe(0n);
  expectError(await open(c!, id), 400, 'GIFT_EXPIRED');
  const shown = await api.call('GET', `/api/v1/wallet/gift/${id}`, { token: d!.token });
  expect(shown.body).toMatchObject({ status: 'expired', refunded_amount: 6, remaining: 2, opened_by: [{ user_id: b!.userId, amount: 3, rank: 1 }] });

  const types = hs.events().filter((e) => e.roomId === roomId).map((e) => e.type);
  expect(types).toEqual(['m.tween.gift', 'm.tween.gift.opened', 'm.tween.gift.expired']);
  const [announced, opened, ended] = hs.events().filter((e) => e.roomId === roomId);
  expect(announced!.content).toMatchObject({ gift_id: id, total_amount: '9.00', count: 3, message: 'Cheers', actions: [{ type: 'open', endpoint: `/api/v1/wallet/gift/${id}/open` }] });
  expect(opened!.content).toMatchObject({ opened_by: b!.userId, amount: '3.00', remaining_count: 2, leaderboard: [{ user: b!.userId, amount: '3.00' }] });
  expect(ended!.content).toMatchObject({ status: 'expired', refunded_amount: '6.00', opened_count: 1 });
  expect(announced!.userId).toBe(PAYMENTS);
  await recordHistory(env.client, `gift-${id}`, 'gift', 'expired');
});

test('a fully opened gift ends at once; its escrow is zero', async () => {
  const sender = await walletUser(api, { name: 'eve', fund: '50.00' });
  const [f, g] = await Promise.all(['fay', 'gus'].map((name) => walletUser(api, { name, pin: false })));
  const roomId = room('full', [sender.userId, f!.userId, g!.userId, PAYMENTS]);
  const { body } = await create(sender, { room_id: roomId, total_amount: '5.00', count: 2, distribution: 'random' });
  const got = [(await open(f!, body.gift_id)).body.amount_received, (await open(g!, body.gift_id)).body.amount_received];
  expect(Math.round((got[0] + got[1]) * 100)).toBe(500);
  expect(await env.client.workflow.getHandle(`gift-${body.gift_id}`).result()).toMatchObject({ status: 'fully_opened', remaining: 0 });
  expect(await escrow(body.gift_id)).toBe(0n);
  // Operators see how it ended, not the `pending` it started with.
  expect((await env.client.workflow.getHandle(`gift-${body.gift_id}`).describe()).typedSearchAttributes.get(TMCP_STATUS)).toBe('fully_opened');
  await recordHistory(env.client, `gift-${body.gift_id}`, 'gift', 'fully-opened');
});

test('the room decides: the sender and openers must be members, the payments bot must be there, count at most the others', async () => {
  const sender = await walletUser(api, { name: 'hal', fund: '50.00' });
  const [i, outsider] = await Promise.all(['ivy', 'out'].map((name) => walletUser(api, { name, pin: false })));
  const noBot = room('nobot', [sender.userId, i!.userId]);
  const refused = await create(sender, { room_id: noBot, total_amount: '2.00', count: 1 });
  expectError(refused, 400, 'INVALID_REQUEST', 'room_id');
  expect(refused.body.error.message).toContain(PAYMENTS);
  const small = room('small', [sender.userId, i!.userId, PAYMENTS]);
  expectError(await create(sender, { room_id: small, total_amount: '2.00', count: 2 }), 400, 'INVALID_REQUEST', 'count');
  const notMine = room('notmine', [i!.userId, PAYMENTS]);
  expectError(await create(sender, { room_id: notMine, total_amount: '2.00', count: 1 }), 403, 'INSUFFICIENT_PERMISSIONS', 'room_id');
  const { body } = await create(sender, { room_id: small, total_amount: '2.00', count: 1 });
  expectError(await open(outsider!, body.gift_id), 403, 'INSUFFICIENT_PERMISSIONS');
  expectError(await api.call('GET', `/api/v1/wallet/gift/${body.gift_id}`, { token: outsider!.token }), 404, 'NOT_FOUND');
  expect((await open(i!, body.gift_id)).status).toBe(200);
  expect(await available(api, sender)).toBe(48);
});

test('a gift whose room the payments bot has left still expires and refunds', async () => {
  const sender = await walletUser(api, { name: 'kim', fund: '20.00' });
  const [lea] = await Promise.all(['lea'].map((name) => walletUser(api, { name, pin: false })));
  const roomId = room('left', [sender.userId, lea!.userId, PAYMENTS]);
  const { body } = await create(sender, { room_id: roomId, total_amount: '4.00', count: 1, expires_in_seconds: 600 });
  // The bot is kicked: sending is forbidden and it cannot join again.
  hs.reply({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } }, { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } });
  hs.replyTo('join', { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'banned' } });
  await env.sleep(601_000);
  expect(await env.client.workflow.getHandle(`gift-${body.gift_id}`).result()).toMatchObject({ status: 'expired', refundedMinor: '400' });
  expect(await available(api, sender)).toBe(20);
  expect(await escrow(body.gift_id)).toBe(0n);
});

test('openers at the same moment are written in batches: exactly the shares are paid, each once, the rest told it is empty', async () => {
  const sender = await walletUser(api, { name: 'max', fund: '50.00' });
  const openers = await Promise.all(Array.from({ length: 8 }, (_, i) => walletUser(api, { name: `burst${i}`, pin: false })));
  const roomId = room('burst', [sender.userId, ...openers.map((o) => o.userId), PAYMENTS]);
  const { body } = await create(sender, { room_id: roomId, total_amount: '3.00', count: 3, distribution: 'equal' });
  const answers = await Promise.all(openers.map((o) => open(o, body.gift_id)));
  const paid = answers.filter((a) => a.status === 200);
  expect(paid.map((a) => a.body.amount_received)).toEqual([1, 1, 1]);
  expect(paid.map((a) => a.body.stats.your_rank).sort()).toEqual([1, 2, 3]);
  for (const a of answers.filter((x) => x.status !== 200)) expectError(a, 409, 'GIFT_EMPTY');
  for (const [i, a] of answers.entries()) expect(await available(api, openers[i]!)).toBe(a.status === 200 ? 1 : 0);
  expect(await escrow(body.gift_id)).toBe(0n);
  // A burst is a few batch writes, not one activity per opener.
  const history = await env.client.workflow.getHandle(`gift-${body.gift_id}`).fetchHistory();
  const batches = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'openGiftBatch');
  expect(batches.length).toBeGreaterThanOrEqual(1);
  expect(batches.length).toBeLessThanOrEqual(3);
  await recordHistory(env.client, `gift-${body.gift_id}`, 'gift', 'burst');
});
