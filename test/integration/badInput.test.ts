import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { ALL_WALLET_SCOPES, walletUser, type TestUser } from '../helpers/p2p';

/**
 * Every number a request carries is bounded at the edge: out of range, negative, fractional or not
 * finite, it is a 400 naming the field, never a 500 from PostgreSQL (a bigint column overflowing).
 */
let db: TestDatabase;
let api: TestApi;
let user: TestUser;
let storage: string;
beforeAll(async () => {
  db = await freshDatabase();
  api = await startTestApi(db);
  user = await walletUser(api, { name: 'numbers', fund: '10.00' });
  storage = await api.token(user.userId, ['storage:read', 'storage:write']);
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const HOSTILE = ['10000000000000000000', '-1', '0.5', '1e400', '"12"'];

/** Each numeric field of a JSON body: the route, a valid body, and where the number goes in it. */
const fields: { method: string; path: () => string; token: () => string; body: Record<string, unknown>; field: string }[] = [
  { method: 'PUT', path: () => '/api/v1/storage/k1', token: () => storage, body: { value: 'v' }, field: 'client_timestamp' },
  { method: 'PUT', path: () => '/api/v1/storage/k1', token: () => storage, body: { value: 'v' }, field: 'ttl' },
  { method: 'POST', path: () => '/api/v1/storage', token: () => storage, body: { key: 'k2', value: 'v' }, field: 'client_timestamp' },
  { method: 'POST', path: () => '/api/v1/storage', token: () => storage, body: { key: 'k2', value: 'v' }, field: 'ttl' },
  { method: 'POST', path: () => '/api/v1/wallet/gift/create', token: () => user.token, body: { type: 'group', room_id: '!r:tmcp.test', total_amount: '1.00', currency: 'USD', idempotency_key: 'g', auth_proof: { method: 'pin', proof: { hashed_pin: 'a'.repeat(64) } } }, field: 'count' },
  { method: 'POST', path: () => '/api/v1/wallet/gift/create', token: () => user.token, body: { type: 'group', room_id: '!r:tmcp.test', total_amount: '1.00', count: 1, currency: 'USD', idempotency_key: 'g', auth_proof: { method: 'pin', proof: { hashed_pin: 'a'.repeat(64) } } }, field: 'expires_in_seconds' },
  { method: 'PATCH', path: () => `/api/v1/admin/wallets/${user.walletId}`, token: () => ADMIN_TOKEN, body: {}, field: 'verification_level' },
];

test('a number out of range, negative, fractional or infinite in any body is a 400 naming its field', async () => {
  for (const f of fields) {
    for (const value of HOSTILE) {
      const raw = JSON.stringify(f.body).replace(/^\{/, `{"${f.field}":${value}${Object.keys(f.body).length > 0 ? ',' : ''}`);
      const res = await api.call(f.method, f.path(), { token: f.token(), raw });
      const outcome = { field: f.field, value, status: res.status, code: res.body?.error?.code, named: res.body?.error?.details?.field };
      expect(outcome).toEqual({ field: f.field, value, status: 400, code: 'INVALID_REQUEST', named: f.field });
    }
  }
});

test('query numbers too: pagination and list limits', async () => {
  const history = await api.token(user.userId, [...ALL_WALLET_SCOPES]);
  for (const [path, token] of [
    ['/api/v1/wallet/transactions?limit=10000000000000000000', history],
    ['/api/v1/wallet/transactions?offset=-1', history],
    ['/api/v1/storage?limit=1e400', storage],
    ['/api/v1/storage?limit=0.5', storage],
  ] as const) {
    const res = await api.call('GET', path, { token });
    expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'INVALID_REQUEST']);
  }
});
