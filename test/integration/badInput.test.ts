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

test('the NUL character, which PostgreSQL cannot store, is a 400 naming where it was: body, key, query or path', async () => {
  const cases = [
    { method: 'PATCH', path: `/api/v1/admin/mini-apps/ma_demo`, token: ADMIN_TOKEN, raw: JSON.stringify({ name: 'Shop\u0000' }), field: 'name' },
    { method: 'POST', path: `/api/v1/admin/wallets/${user.walletId}/fund`, token: ADMIN_TOKEN, raw: JSON.stringify({ amount: '1.00', currency: 'USD', idempotency_key: 'nul', note: 'a\u0000b' }), field: 'note' },
    { method: 'POST', path: '/api/v1/storage', token: storage, raw: JSON.stringify({ key: 'k3', value: { nested: ['ok', 'n\u0000'] } }), field: 'value.nested.1' },
    { method: 'POST', path: '/api/v1/storage', token: storage, raw: JSON.stringify({ key: 'k3', value: { 'bad\u0000key': 1 } }), field: 'value.bad\u0000key' },
    { method: 'GET', path: '/api/v1/storage?prefix=a%00', token: storage, field: 'prefix' },
    { method: 'GET', path: '/api/v1/admin/mini-apps/ma%00demo', token: ADMIN_TOKEN, field: 'path' },
  ];
  for (const c of cases) {
    const res = await api.call(c.method, c.path, { token: c.token, ...(c.raw ? { raw: c.raw } : {}) });
    expect([c.path, res.status, res.body?.error?.code, res.body?.error?.details?.field]).toEqual([c.path, 400, 'INVALID_REQUEST', c.field]);
  }
  // Nothing was written by the refused fund.
  const balance = await api.call('GET', '/api/v1/wallet/balance', { token: user.token });
  expect(balance.body.balance.available).toBe(10);
});

test('a history snapshot PostgreSQL would refuse is the client’s bad input, not a 500', async () => {
  const history = await api.token(user.userId, [...ALL_WALLET_SCOPES]);
  const first = await api.call('GET', '/api/v1/wallet/transactions?limit=1', { token: history });
  expect(first.status).toBe(200);
  // The one an earlier page gave is taken; the fuzzer's 0:0: and its kin are not.
  expect((await api.call('GET', `/api/v1/wallet/transactions?snapshot=${encodeURIComponent(first.body.pagination.snapshot)}`, { token: history })).status).toBe(200);
  for (const snapshot of ['0:0:', '5:3:', '3:9:10', '3:9:6,4', '1:99999999999999999999:']) {
    const res = await api.call('GET', `/api/v1/wallet/transactions?snapshot=${encodeURIComponent(snapshot)}`, { token: history });
    expect([snapshot, res.status, res.body.error?.details?.field]).toEqual([snapshot, 400, 'snapshot']);
  }
});

test('headers larger than Node accepts are answered in the error format too', async () => {
  const res = await fetch(`${api.url}/api/v1/wallet/balance?state=${'a'.repeat(20_000)}`);
  expect([res.status, res.headers.get('content-type'), ((await res.json()) as { error: { code: string } }).error.code]).toEqual([431, 'application/json; charset=utf-8', 'INVALID_REQUEST']);
});
