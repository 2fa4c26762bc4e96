import { createLocalJWKSet, jwtVerify } from 'jose';
import { issueTep } from '../../src/auth/tep';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';

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
