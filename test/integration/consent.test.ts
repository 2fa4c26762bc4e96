import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { expectError, MESSENGER_CLIENT } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/** The user's approvals of mini-app scopes (PROTO 4.3.1 consent flow), given from the messenger. */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  api = await startTestApi(db, stubMatrixEnv(hs, 'consent'));
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

const user = (name: string) => stubSession(hs, name);

const approve = (token: string, body: unknown) => api.call('POST', '/api/v1/oauth/consent', { token, body });
const approvals = (token: string) => api.call('GET', '/api/v1/oauth/consent', { token });

test('records approvals per user, mini-app and scope, and lists them', async () => {
  const alice = user('alice');
  const first = await approve(alice.token, { client_id: 'ma_shop_001', scopes: ['wallet:pay', 'wallet:balance'] });
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ user_id: alice.userId, client_id: 'ma_shop_001', scopes: expect.arrayContaining(['wallet:pay', 'wallet:balance']) });
  // Approving again adds to what is there; an approval is kept once.
  const more = await approve(alice.token, { client_id: 'ma_shop_001', scopes: ['wallet:pay', 'user:read'] });
  expect([...more.body.scopes].sort()).toEqual(['user:read', 'wallet:balance', 'wallet:pay']);
  await approve(alice.token, { client_id: 'ma_demo', scopes: ['room:create'] });
  const listed = await approvals(alice.token);
  expect(listed.body.consents.map((c: { client_id: string; scopes: string[] }) => [c.client_id, [...c.scopes].sort()])).toEqual([
    ['ma_demo', ['room:create']],
    ['ma_shop_001', ['user:read', 'wallet:balance', 'wallet:pay']],
  ]);
  // Someone else's list is their own.
  expect((await approvals(user('bob').token)).body.consents).toEqual([]);
});

test('refuses scopes the app is not registered for, an unknown or suspended app, and a mini-app acting for the user', async () => {
  const carol = user('carol');
  const unregistered = await approve(carol.token, { client_id: 'ma_shop_001', scopes: ['wallet:pay', 'room:create'] });
  expectError(unregistered, 400, 'INVALID_SCOPE', 'scopes');
  expect(unregistered.body.error.details.scopes).toEqual(['room:create']);
  expectError(await approve(carol.token, { client_id: 'ma_nope', scopes: ['user:read'] }), 404, 'MINIAPP_NOT_FOUND', 'client_id');
  expectError(await approve(carol.token, { client_id: 'ma_shop_001', scopes: [] }), 400, 'INVALID_REQUEST', 'scopes');
  expect((await approvals(carol.token)).body.consents).toEqual([]);

  await api.call('PATCH', '/api/v1/admin/mini-apps/ma_shop_001', { token: ADMIN_TOKEN, body: { status: 'suspended' } });
  try {
    expectError(await approve(carol.token, { client_id: 'ma_shop_001', scopes: ['user:read'] }), 403, 'INSUFFICIENT_PERMISSIONS', 'client_id');
  } finally {
    await api.call('PATCH', '/api/v1/admin/mini-apps/ma_shop_001', { token: ADMIN_TOKEN, body: { status: 'active' } });
  }

  // Only the user's own messenger approves: a mini-app's TEP cannot, the first-party client's can.
  const miniapp = await api.token(carol.userId, ['user:read'], 'ma_demo');
  expectError(await approve(miniapp, { client_id: 'ma_demo', scopes: ['wallet:pay'] }), 403, 'INSUFFICIENT_PERMISSIONS');
  const messenger = await api.token(carol.userId, ['user:read'], MESSENGER_CLIENT);
  expect((await approve(messenger, { client_id: 'ma_demo', scopes: ['wallet:pay'] })).body.scopes).toEqual(['wallet:pay']);
});
