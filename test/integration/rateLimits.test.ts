import { request } from 'node:http';
import { ADMIN_TOKEN, apiClient, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { testKeys } from '../helpers/keys';
import { startApiProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';

/** PROTO 11.4: token buckets per category and caller, the headers, 429, and suspension on repeated violations. */
let db: TestDatabase;
let api: TestApi;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  db = await freshDatabase();
  // Real limits (scale 1), and small ones where a test spends a bucket.
  api = await startTestApi(db, {
    RATE_LIMIT_SCALE: '1',
    RATE_LIMITS: 'balance=4/1m/1,device_code=3/1h/0',
    RATE_LIMIT_SUSPEND_AFTER: '3',
  });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const balance = async (token: string) => api.call('GET', '/api/v1/wallet/balance', { token });

test('a caller gets limit + burst calls of a category, each answer says what is left, then 429 with Retry-After and PROTO 11.4.4 body', async () => {
  const token = await api.token('@rl-headers:tmcp.test', ['wallet:balance']);
  const remaining: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await balance(token);
    expect(res.status).not.toBe(429);
    expect(res.headers.get('x-ratelimit-limit')).toBe('4');
    expect(res.headers.get('x-ratelimit-burst')).toBe('1');
    remaining.push(res.headers.get('x-ratelimit-remaining')!);
  }
  expect(remaining).toEqual(['4', '3', '2', '1', '0']);
  const refused = await balance(token);
  expect(refused.status).toBe(429);
  // One token comes back every 15 s (4 a minute).
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(15);
  expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
  const reset = Number(refused.headers.get('x-ratelimit-reset'));
  expect(reset).toBeGreaterThan(Date.now() / 1000);
  expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 76);
  expect(refused.body.error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', limit: 4, window: '1 minute', retry_after: Number(refused.headers.get('retry-after')) });
});

test('buckets are per user and mini-app, and per category', async () => {
  const user = '@rl-keys:tmcp.test';
  const demo = await api.token(user, ['wallet:balance', 'wallet:history']);
  for (let i = 0; i < 5; i += 1) expect((await balance(demo)).status).not.toBe(429);
  expect((await balance(demo)).status).toBe(429);
  // The same user through another app, another user through the same app, another category: their own buckets.
  expect((await balance(await api.token(user, ['wallet:balance'], 'ma_shop_001'))).status).not.toBe(429);
  expect((await balance(await api.token('@rl-other:tmcp.test', ['wallet:balance']))).status).not.toBe(429);
  const history = await api.call('GET', '/api/v1/wallet/transactions', { token: demo });
  expect(history.status).not.toBe(429);
  expect(history.headers.get('x-ratelimit-limit')).toBe('30');
});

test('an anonymous caller is limited by address and client', async () => {
  const deviceCode = (clientId: string) =>
    api.call('POST', '/api/v1/oauth2/device/authorization', {
      raw: new URLSearchParams({ client_id: clientId, scope: 'user:read' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  for (let i = 0; i < 3; i += 1) expect((await deviceCode('ma_demo')).status).not.toBe(429);
  const refused = await deviceCode('ma_demo');
  expect(refused.status).toBe(429);
  expect(refused.body.error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', limit: 3, window: '1 hour' });
  expect((await deviceCode('ma_shop_001')).status).not.toBe(429);
  // Made-up client ids share one bucket per address: naming new clients gets no fresh buckets.
  for (let i = 0; i < 3; i += 1) expect((await deviceCode(`ma_made_up_${i}`)).status).not.toBe(429);
  expect((await deviceCode('ma_made_up_3')).status).toBe(429);
});

test('Basic credentials that do not decode are bad input for the limiter too, never a 500', async () => {
  const malformed = Buffer.from('%E0%A4%A:secret').toString('base64');
  const res = await api.call('POST', '/api/v1/oauth2/introspect', {
    raw: new URLSearchParams({ token: 'x' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${malformed}` },
  });
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('x-ratelimit-limit')).not.toBeNull();
});

test('repeated violations suspend the caller (403 ACCOUNT_SUSPENDED) until an operator lifts it', async () => {
  const user = '@rl-abuser:tmcp.test';
  const token = await api.token(user, ['wallet:balance', 'wallet:history']);
  for (let i = 0; i < 5; i += 1) await balance(token);
  // The third violation suspends (RATE_LIMIT_SUSPEND_AFTER=3).
  for (let i = 0; i < 3; i += 1) expect((await balance(token)).status).toBe(429);
  const suspended = await eventually(() => balance(token), (res) => res.status === 403);
  expect(suspended.body.error).toMatchObject({ code: 'ACCOUNT_SUSPENDED', reason: 'repeated_rate_limit_violations' });
  const until = Date.parse(suspended.body.error.suspended_until);
  expect(until).toBeGreaterThan(Date.now() + 55 * 60_000);
  // Every route with a limit refuses the subject; other users and the same user through another app are not suspended.
  expect((await api.call('GET', '/api/v1/wallet/transactions', { token })).status).toBe(403);
  expect((await balance(await api.token(user, ['wallet:balance'], 'ma_shop_001'))).status).not.toBe(403);

  expect((await api.call('GET', '/api/v1/admin/suspensions', { token })).status).toBe(401);
  const listed = await api.call('GET', '/api/v1/admin/suspensions', { headers: admin });
  expect(listed.status).toBe(200);
  const mine = listed.body.suspensions.find((s: { user_id: string }) => s.user_id === user);
  expect(mine).toMatchObject({ client_id: 'ma_demo', reason: 'repeated_rate_limit_violations', lifted_at: null });
  expect(Date.parse(mine.suspended_until)).toBe(until);

  const lifted = await api.call('POST', `/api/v1/admin/suspensions/${mine.suspension_id}/lift`, { headers: admin });
  expect(lifted.status).toBe(200);
  expect(lifted.body.lifted_at).not.toBeNull();
  expect((await api.call('POST', `/api/v1/admin/suspensions/${mine.suspension_id}/lift`, { headers: admin })).status).toBe(404);
  // Lifted everywhere at once; the spent bucket still refills at its own pace, and the next violation does not suspend again.
  const after = await eventually(() => api.call('GET', '/api/v1/wallet/transactions', { token }), (res) => res.status !== 403);
  // Past the limiter into the route (this user has no wallet).
  expect(after.body.error.code).toBe('NO_WALLET');
  expect((await balance(token)).status).toBe(429);
  expect((await balance(token)).status).toBe(429);
  expect((await api.call('GET', '/api/v1/admin/suspensions', { headers: admin })).body.suspensions).toEqual([]);
});

test('the operator, Synapse and health routes are not limited', async () => {
  for (let i = 0; i < 10; i += 1) {
    const res = await api.call('GET', '/api/v1/admin/suspensions', { headers: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  }
  expect((await api.call('GET', '/health')).headers.get('x-ratelimit-limit')).toBeNull();
});

/** A GET on a new connection each time, so Node's cluster hands calls to both processes in turn. */
function getOnNewConnection(port: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

test('two API processes share the buckets: a limit is not doubled', async () => {
  const port = await freePort();
  const { file, keys } = await testKeys();
  const proc = startApiProcess(port, {
    DATABASE_URL: db.url,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('rate'),
    TEP_KEYS_FILE: file,
    ADMIN_TOKEN,
    API_PROCESSES: '2',
    RATE_LIMIT_SCALE: '1',
    RATE_LIMITS: 'balance=10/1h/0',
  });
  try {
    expect(await eventually(async () => proc.output().split('API listening').length - 1, (n) => n === 2, 30_000)).toBe(2);
    const client = apiClient(`http://127.0.0.1:${port}`, keys, `http://127.0.0.1:${port}`);
    const token = await client.token('@rl-cluster:tmcp.test', ['wallet:balance']);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i += 1) statuses.push(await getOnNewConnection(port, '/api/v1/wallet/balance', token));
    expect(statuses.filter((s) => s !== 429)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual(Array(10).fill(429));
  } finally {
    await proc.stop();
  }
});
