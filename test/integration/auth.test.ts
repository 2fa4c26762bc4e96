import { createLocalJWKSet, jwtVerify } from 'jose';
import { issueTep } from '../../src/auth/tep';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { MESSENGER_CLIENT } from '../helpers/p2p';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await freshDatabase();
  api = await startTestApi(db);
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const user = '@auth:tmcp.test';

test('a request without a token answers 401 with a Bearer challenge', async () => {
  const res = await api.call('GET', '/api/v1/wallet/balance');
  expect(res.status).toBe(401);
  expect(res.body.error).toMatchObject({ code: 'INVALID_TOKEN', message: 'Missing TEP token' });
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
});

test('an invalid or expired token answers 401 INVALID_TOKEN', async () => {
  const expired = await issueTep(api.keys, { issuer: api.config.http.publicUrl, ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) }, {
    userId: user, clientId: 'ma_demo', scopes: ['wallet:balance'], walletId: null,
  });
  const foreign = await testKeys();
  const otherKey = await issueTep(foreign.keys, { issuer: api.config.http.publicUrl, ttlSeconds: 60 }, {
    userId: user, clientId: 'ma_demo', scopes: ['wallet:balance'], walletId: null,
  });
  for (const token of [expired.token, otherKey.token, 'tep.garbage', 'not-a-tep']) {
    const res = await api.call('GET', '/api/v1/wallet/balance', { token });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'INVALID_TOKEN', message: 'Invalid or expired TEP token' });
  }
});

test('a token without the endpoint scope answers 403 INSUFFICIENT_PERMISSIONS', async () => {
  const token = await api.token(user, ['storage:read']);
  const res = await api.call('GET', '/api/v1/wallet/balance', { token });
  expect(res.status).toBe(403);
  expect(res.body.error).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS', details: { required_scope: 'wallet:balance' } });
});

test('GET /.well-known/jwks.json publishes the key that verifies issued tokens', async () => {
  const res = await api.call('GET', '/.well-known/jwks.json');
  expect(res.status).toBe(200);
  expect(res.body.keys).toHaveLength(1);
  expect(res.body.keys[0]).not.toHaveProperty('d');
  const token = await api.token(user, ['wallet:balance']);
  const { payload } = await jwtVerify(token.slice(4), createLocalJWKSet(res.body), { issuer: api.config.http.publicUrl });
  expect(payload.sub).toBe(user);
});

const form = (path: string, fields: Record<string, string>) =>
  api.call('POST', path, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

test("a revoked or suspended first-party TEP is refused by the messenger's routes as by every other", async () => {
  const messenger = await api.token(user, ['user:read', 'wallet:balance'], MESSENGER_CLIENT);
  expect((await api.call('GET', '/api/v1/oauth/consent', { token: messenger })).status).toBe(200);
  const grant = await form('/api/v1/oauth2/device/authorization', { client_id: 'ma_demo', scope: 'user:read' });
  expect(grant.status).toBe(200);

  expect((await form('/api/v1/oauth2/revoke', { client_id: MESSENGER_CLIENT, token: messenger })).status).toBe(200);
  for (const [method, path, body] of [
    ['GET', '/api/v1/wallet/balance', undefined],
    ['GET', '/api/v1/oauth/consent', undefined],
    ['POST', '/api/v1/oauth/consent', { client_id: 'ma_demo', scopes: ['wallet:pay'] }],
    ['POST', '/api/v1/oauth2/device/approve', { user_code: grant.body.user_code, decision: 'approve' }],
    ['PUT', '/api/v1/wallet/settings', { require_p2p_acceptance: true }],
  ] as const) {
    const res = await api.call(method, path, { token: messenger, body });
    expect([path, res.status, res.body.error?.code]).toEqual([path, 401, 'INVALID_TOKEN']);
  }

  // A first-party client that is suspended: its TEPs stop working on the messenger's routes too.
  const fresh = await api.token(user, ['user:read'], MESSENGER_CLIENT);
  await api.call('PATCH', `/api/v1/admin/mini-apps/${MESSENGER_CLIENT}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
  try {
    const res = await api.call('GET', '/api/v1/oauth/consent', { token: fresh });
    expect([res.status, res.body.error?.code]).toEqual([401, 'INVALID_TOKEN']);
  } finally {
    await api.call('PATCH', `/api/v1/admin/mini-apps/${MESSENGER_CLIENT}`, { token: ADMIN_TOKEN, body: { status: 'active' } });
  }
});
