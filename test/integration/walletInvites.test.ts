import type { TestApi } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { startMatrixStack, type MatrixStack } from '../helpers/matrixStack';
import { expectError, newUserId, walletUser } from '../helpers/p2p';
import { type StubHomeserver } from '../helpers/stubHomeserver';

/** PROTO 6.3.10: someone without a wallet, invited to create one in a room both are in, once. */
let stack: MatrixStack;
let hs: StubHomeserver;
let api: TestApi;

beforeAll(async () => {
  stack = await startMatrixStack('invites');
  ({ hs, api } = stack);
});
afterAll(async () => {
  await stack?.close();
});

test('the payments bot invites a room member without a wallet, once; a member with one, a stranger or oneself is refused', async () => {
  const alice = await walletUser(api, { name: 'alice' });
  const bob = newUserId('bob');
  const carol = await walletUser(api, { name: 'carol' });
  const room = '!friends:tmcp.test';
  hs.setUserProfile(alice.userId, { displayname: 'Alice' });
  const members = { status: 200, body: { joined: { [alice.userId]: {}, [bob]: {}, [carol.userId]: {} } } };
  hs.replyFor('joined_members', room, members);
  const invite = (body: Record<string, unknown>) => api.call('POST', '/wallet/v1/invite', { token: alice.token, body });

  const first = await invite({ user_id: bob, room_id: room });
  expect(first.status).toBe(202);
  expect(first.body).toMatchObject({ invited: true, user_id: bob, room_id: room, invite_url: `tween://invite-wallet?user=${bob}` });
  const invites = () => hs.events().filter((e) => e.type === 'm.tween.wallet.invite');
  const [sent] = await eventually(async () => invites(), (events) => events.length === 1);
  expect(sent).toMatchObject({
    roomId: room,
    userId: '@_tmcp_payments:tmcp.test',
    content: { msgtype: 'm.tween.wallet_invite', body: 'Alice invited you to create a Tween Wallet', inviter: alice.userId, invitee: bob, invite_url: `tween://invite-wallet?user=${bob}` },
  });
  // Asked again: the same invitation, not a second event.
  expect((await invite({ user_id: bob, room_id: room })).body.workflow_id).toBe(first.body.workflow_id);
  await api.temporal.client.workflow.getHandle(first.body.workflow_id).result();
  expect(invites()).toHaveLength(1);

  expectError(await invite({ user_id: carol.userId, room_id: room }), 409, 'INVALID_STATE', 'user_id');
  expectError(await invite({ user_id: alice.userId, room_id: room }), 400, 'INVALID_REQUEST', 'user_id');
  hs.replyFor('joined_members', '!elsewhere:tmcp.test', { status: 200, body: { joined: { [alice.userId]: {} } } });
  expectError(await invite({ user_id: bob, room_id: '!elsewhere:tmcp.test' }), 403, 'INSUFFICIENT_PERMISSIONS');
  await recordHistory(api.temporal.client, first.body.workflow_id, 'walletInvite', 'sent');
});
