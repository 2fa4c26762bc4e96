import { setMembership } from '../../src/db/matrix';
import { miniappAnnouncementWorkflowId } from '../../src/domain/miniappEvents';
import { ADMIN_TOKEN, type TestApi } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { startMatrixStack, type MatrixStack } from '../helpers/matrixStack';
import { expectError } from '../helpers/p2p';

/**
 * PROTO 8.1.4 from the server's side: the updater bot tells the rooms a mini-app's bot is in that
 * the app was updated (an approved change of version), or removed; once each.
 */
let stack: MatrixStack;
let api: TestApi;
const UPDATER = '@_tmcp_updater:tmcp.test';

beforeAll(async () => {
  stack = await startMatrixStack('announcements');
  ({ api } = stack);
});
afterAll(async () => {
  await stack?.close();
});

test("an approved app's new version is told to its rooms once, by the updater bot; its removal too", async () => {
  const token = (await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: '@maker:tmcp.test' } })).body.access_token as string;
  const id = (await api.call('POST', '/mini-apps/v1/register', { token, body: { name: 'Quiz Night', version: '1.0.0', technical: { client_type: 'public', scopes_requested: ['user:read'] } } })).body.miniapp_id as string;
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  // The app's bot is in two rooms (it was invited and joined).
  const rooms = ['!quiz1:tmcp.test', '!quiz2:tmcp.test'];
  for (const [i, room] of rooms.entries()) await setMembership(stack.db.pool, room, `@${id}:tmcp.test`, 'join', `$join${i}`);
  const lifecycle = () => stack.hs.events().filter((e) => e.type.startsWith('m.tween.miniapp.') && e.content.miniapp_id === id);
  // Its first approval is its first version: nothing to tell.
  expect(lifecycle()).toEqual([]);

  // A version may only go up.
  expectError(await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { version: '0.9.0' } }), 400, 'INVALID_REQUEST', 'version');
  // A new version is reviewed before anyone hears of it.
  const updated = await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { version: '1.1.0' } });
  expect(updated.body).toMatchObject({ version: '1.1.0', status: 'pending_review' });
  expect(lifecycle()).toEqual([]);
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  const told = await eventually(async () => lifecycle(), (events) => events.length === 2);
  expect(told.map((e) => e.roomId).sort()).toEqual(rooms);
  for (const event of told) {
    expect(event).toMatchObject({ type: 'm.tween.miniapp.updated', userId: UPDATER, content: { miniapp_id: id, name: 'Quiz Night', previous_version: '1.0.0', new_version: '1.1.0', update_type: 'minor' } });
  }
  // A change that is not a version tells nothing more.
  await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { description: 'Every Friday' } });
  const workflowId = miniappAnnouncementWorkflowId(id, 'v1.1.0');
  expect(await api.temporal.client.workflow.getHandle(workflowId).result()).toEqual({ sent: 2, skipped: 0 });
  expect(lifecycle()).toHaveLength(2);
  await recordHistory(api.temporal.client, workflowId, 'miniappAnnouncement', 'updated');

  // A rejected version is never told; the next approved one is, from the last one told.
  expect((await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { version: '1.2.0', scopes: ['user:read', 'storage:read'] } })).body.status).toBe('pending_review');
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'reject' } });
  await api.call('POST', `/mini-apps/v1/${id}/appeal`, { token, body: { reason: 'fixed' } });
  expect((await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { version: '2.0.0' } })).body.status).toBe('appeal');
  expect(lifecycle()).toHaveLength(2);
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  const major = await eventually(async () => lifecycle().filter((e) => e.content.new_version === '2.0.0'), (events) => events.length === 2);
  expect(major[0]!.content).toMatchObject({ previous_version: '1.1.0', update_type: 'major' });
  expect(lifecycle().filter((e) => e.content.new_version === '1.2.0')).toEqual([]);

  // Removed by its developer: each room hears it once.
  expect((await api.call('DELETE', `/mini-apps/v1/${id}`, { token })).body.deleted).toBe(true);
  const removed = await eventually(async () => lifecycle().filter((e) => e.type === 'm.tween.miniapp.uninstalled'), (events) => events.length === 2);
  expect(removed[0]).toMatchObject({ userId: UPDATER, content: { miniapp_id: id, reason: 'removed_by_developer', data_cleanup: { storage_cleared: true, permissions_revoked: true } } });
});

test('a room that refuses the updater bot lets it in through the app bot, and a room gone is skipped', async () => {
  const token = (await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: '@maker2:tmcp.test' } })).body.access_token as string;
  const id = (await api.call('POST', '/mini-apps/v1/register', { token, body: { name: 'Trivia', technical: { client_type: 'public', scopes_requested: ['user:read'] } } })).body.miniapp_id as string;
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  await setMembership(stack.db.pool, '!trivia:tmcp.test', `@${id}:tmcp.test`, 'join', '$t1');
  await setMembership(stack.db.pool, '!trivia0:tmcp.test', `@${id}:tmcp.test`, 'join', '$t0');
  // Each room refuses the updater's first send (it is not in the room); the first room (by id) is
  // gone by the time it tries to join.
  const notIn = { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } };
  stack.hs.reply(notIn, notIn);
  stack.hs.replyFor('join', '!trivia0:tmcp.test', { status: 404, body: { errcode: 'M_NOT_FOUND', error: 'no such room' } });
  await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { version: '1.0.1' } });
  await api.call('POST', `/api/v1/admin/mini-apps/${id}/review`, { token: ADMIN_TOKEN, body: { decision: 'approve' } });
  const result = await api.temporal.client.workflow.getHandle(miniappAnnouncementWorkflowId(id, 'v1.0.1')).result();
  expect(result).toEqual({ sent: 1, skipped: 1 });
  expect(stack.hs.events().filter((e) => e.roomId === '!trivia0:tmcp.test' && e.type.startsWith('m.tween.miniapp.'))).toEqual([]);
  const invite = stack.hs.calls.filter((c) => c.kind === 'invite' && c.args[0] === '!trivia:tmcp.test');
  expect(invite).toEqual([expect.objectContaining({ userId: `@${id}:tmcp.test`, body: { user_id: UPDATER } })]);
  expect(stack.hs.calls.some((c) => c.kind === 'join' && c.args[0] === '!trivia:tmcp.test' && c.userId === UPDATER)).toBe(true);
  expect(stack.hs.events().filter((e) => e.roomId === '!trivia:tmcp.test' && e.type === 'm.tween.miniapp.updated' && e.content.new_version === '1.0.1')).toHaveLength(1);
});
