import { request } from 'node:http';
import { sql } from 'slonik';
import { startTestApi, ADMIN_TOKEN, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';

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

const ALL = ['wallet:balance', 'wallet:pay', 'wallet:history'];
let userCounter = 0;
function newUser(): string {
  userCounter += 1;
  return `@user${userCounter}_${Date.now()}:tmcp.test`;
}

async function registered(scopes = ALL): Promise<{ userId: string; token: string; walletId: string }> {
  const userId = newUser();
  const token = await api.token(userId, scopes);
  const res = await api.call('POST', '/api/v1/wallet/register', { token, body: {} });
  expect(res.status).toBe(201);
  return { userId, token, walletId: res.body.wallet_id };
}

function fund(walletId: string, body: Record<string, unknown>, token = ADMIN_TOKEN) {
  return api.call('POST', `/api/v1/admin/wallets/${walletId}/fund`, { token, body });
}

function expectError(res: { status: number; body: any }, status: number, code: string, field?: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toMatchObject({ code, request_id: expect.stringMatching(/\S/), timestamp: expect.any(String) });
  if (field) expect(res.body.error.details.field).toBe(field);
}

describe('POST /api/v1/wallet/register', () => {
  test('creates the wallet once; calling again returns the same wallet', async () => {
    const userId = newUser();
    const token = await api.token(userId, ALL);
    const first = await api.call('POST', '/api/v1/wallet/register', { token, body: { currency: 'EUR' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ user_id: userId, status: 'active', balance: { available: 0, currency: 'EUR' } });
    expect(first.body.wallet_id).toMatch(/^tw_[a-z2-7]{24}$/);
    const again = await api.call('POST', '/api/v1/wallet/register', { token, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.wallet_id).toBe(first.body.wallet_id);
    expect(again.body.balance.currency).toBe('EUR');
  });

  test('accepts a lower daily limit and refuses one above the default', async () => {
    const token = await api.token(newUser(), ALL);
    const high = await api.call('POST', '/api/v1/wallet/register', { token, body: { initial_settings: { daily_limit: 100000.01 } } });
    expectError(high, 400, 'INVALID_REQUEST', 'initial_settings.daily_limit');
    const low = await api.call('POST', '/api/v1/wallet/register', { token, body: { initial_settings: { daily_limit: 250 } } });
    expect(low.status).toBe(201);
    const balance = await api.call('GET', '/api/v1/wallet/balance', { token });
    expect(balance.body.limits.daily_limit).toBe(250);
  });

  test('refuses a user_id other than the token subject', async () => {
    const token = await api.token(newUser(), ALL);
    expectError(await api.call('POST', '/api/v1/wallet/register', { token, body: { user_id: '@mallory:tmcp.test' } }), 403, 'INSUFFICIENT_PERMISSIONS');
  });

  test('names the bad field: unknown currency, unknown field, wrong type, bad JSON', async () => {
    const token = await api.token(newUser(), ALL);
    expectError(await api.call('POST', '/api/v1/wallet/register', { token, body: { currency: 'XYZ' } }), 400, 'INVALID_REQUEST', 'currency');
    expectError(await api.call('POST', '/api/v1/wallet/register', { token, body: { colour: 'red' } }), 400, 'INVALID_REQUEST', 'colour');
    expectError(await api.call('POST', '/api/v1/wallet/register', { token, body: { currency: 5 } }), 400, 'INVALID_REQUEST', 'currency');
    expectError(await api.call('POST', '/api/v1/wallet/register', { token, raw: '{"currency":' }), 400, 'INVALID_REQUEST', 'body');
  });
});

describe('GET /api/v1/wallet/balance', () => {
  test('answers NO_WALLET before registration', async () => {
    const token = await api.token(newUser(), ALL);
    expectError(await api.call('GET', '/api/v1/wallet/balance', { token }), 404, 'NO_WALLET');
  });

  test('shows available, pending, limits, verification and status in decimal amounts', async () => {
    const { token, walletId, userId } = await registered();
    expect((await fund(walletId, { amount: '1234.56', currency: 'USD', idempotency_key: `b-${walletId}` })).status).toBe(201);
    const res = await api.call('GET', '/api/v1/wallet/balance', { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      wallet_id: walletId,
      user_id: userId,
      balance: { available: 1234.56, pending: 0, currency: 'USD' },
      limits: { daily_limit: 100000, daily_used: 0, monthly_limit: 1000000, monthly_used: 0, transaction_limit: 50000, currency: 'USD' },
      verification: {
        level: 1,
        level_name: 'Basic',
        features: { p2p_send: true, p2p_receive: true, miniapp_payments: true, withdrawals: true },
        can_upgrade: true,
        next_level: 2,
        upgrade_requirements: ['government_id'],
      },
      status: 'active',
    });
    const eur = await api.call('GET', '/api/v1/wallet/balance?currency=EUR', { token });
    expect(eur.body.balance).toEqual({ available: 0, pending: 0, currency: 'EUR' });
  });

  test('rejects an unknown currency and unknown query parameters', async () => {
    const { token } = await registered();
    expectError(await api.call('GET', '/api/v1/wallet/balance?currency=usd', { token }), 400, 'INVALID_REQUEST', 'currency');
    expectError(await api.call('GET', '/api/v1/wallet/balance?foo=1', { token }), 400, 'INVALID_REQUEST', 'foo');
  });
});

describe('GET /api/v1/wallet/transactions', () => {
  test('lists newest first with limit, offset and has_more', async () => {
    const { token, walletId } = await registered();
    for (const [i, amount] of ['1.00', '2.00', '3.00'].entries()) {
      expect((await fund(walletId, { amount, currency: 'USD', idempotency_key: `h-${walletId}-${i}`, note: `n${i}` })).status).toBe(201);
    }
    const page1 = await api.call('GET', '/api/v1/wallet/transactions?limit=2', { token });
    expect(page1.status).toBe(200);
    expect(page1.body.transactions.map((t: any) => t.amount)).toEqual([3, 2]);
    expect(page1.body.transactions[0]).toMatchObject({ type: 'deposit', currency: 'USD', status: 'completed', note: 'n2', direction: 'credit' });
    expect(page1.body.pagination).toMatchObject({ total: 3, limit: 2, offset: 0, has_more: true });
    const page2 = await api.call('GET', `/api/v1/wallet/transactions?limit=2&offset=2&snapshot=${page1.body.pagination.snapshot}`, { token });
    expect(page2.body.transactions.map((t: any) => t.amount)).toEqual([1]);
    expect(page2.body.pagination.has_more).toBe(false);
  });

  test('pages stay stable while new entries are written', async () => {
    const { token, walletId } = await registered();
    for (let i = 0; i < 6; i += 1) await fund(walletId, { amount: i + 1, currency: 'USD', idempotency_key: `s-${walletId}-${i}` });
    const page1 = await api.call('GET', '/api/v1/wallet/transactions?limit=3', { token });
    const { snapshot } = page1.body.pagination;
    await Promise.all(Array.from({ length: 5 }, (_, i) => fund(walletId, { amount: 100 + i, currency: 'USD', idempotency_key: `s2-${walletId}-${i}` })));
    const page2 = await api.call('GET', `/api/v1/wallet/transactions?limit=3&offset=3&snapshot=${snapshot}`, { token });
    const seen = [...page1.body.transactions, ...page2.body.transactions].map((t: any) => t.amount);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1]);
    expect(page2.body.pagination).toMatchObject({ total: 6, has_more: false });
    const fresh = await api.call('GET', '/api/v1/wallet/transactions?limit=3', { token });
    expect(fresh.body.pagination.total).toBe(11);
  });

  test('rejects bad paging and needs wallet:history', async () => {
    const { token, userId } = await registered();
    expectError(await api.call('GET', '/api/v1/wallet/transactions?limit=0', { token }), 400, 'INVALID_REQUEST', 'limit');
    expectError(await api.call('GET', '/api/v1/wallet/transactions?limit=abc', { token }), 400, 'INVALID_REQUEST', 'limit');
    expectError(await api.call('GET', '/api/v1/wallet/transactions?offset=-1', { token }), 400, 'INVALID_REQUEST', 'offset');
    expectError(await api.call('GET', '/api/v1/wallet/transactions?snapshot=x', { token }), 400, 'INVALID_REQUEST', 'snapshot');
    const balanceOnly = await api.token(userId, ['wallet:balance']);
    expectError(await api.call('GET', '/api/v1/wallet/transactions', { token: balanceOnly }), 403, 'INSUFFICIENT_PERMISSIONS');
    expectError(await api.call('GET', '/api/v1/wallet/transactions', { token: await api.token(newUser(), ALL) }), 404, 'NO_WALLET');
  });
});

describe('wallet resolution', () => {
  test('resolves an active wallet, 404 NO_WALLET without one, 403 for a suspended one', async () => {
    const alice = await registered();
    const bob = await registered();
    const ok = await api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(bob.userId)}`, { token: alice.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ user_id: bob.userId, wallet_id: bob.walletId, wallet_status: 'active', payment_enabled: true });

    const nobody = newUser();
    const none = await api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(nobody)}`, { token: alice.token });
    expectError(none, 404, 'NO_WALLET');
    expect(none.body.error.details).toMatchObject({ user_id: nobody, can_invite: true });
    // PROTO 6.3.2's body: beside code and message, with the invitation to offer (named by localpart without a homeserver profile).
    expect(none.body.error).toMatchObject({ user_id: nobody, can_invite: true, invite_message: `Invite ${nobody.slice(1).split(':')[0]} to create a Tween Wallet` });

    const suspend = await api.call('PATCH', `/api/v1/admin/wallets/${bob.walletId}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
    expect(suspend.status).toBe(200);
    expectError(await api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent(bob.userId)}`, { token: alice.token }), 403, 'WALLET_SUSPENDED');
  });

  test('rejects a malformed user id and a malformed room id', async () => {
    const alice = await registered();
    expectError(await api.call('GET', '/api/v1/wallet/resolve/bob', { token: alice.token }), 400, 'INVALID_REQUEST', 'user_id');
    expectError(await api.call('GET', `/api/v1/wallet/resolve/${encodeURIComponent('@bob:x')}?room_id=nope`, { token: alice.token }), 400, 'INVALID_REQUEST', 'room_id');
  });

  test('batch resolution answers each id in order', async () => {
    const alice = await registered();
    const bob = await registered();
    const carol = newUser();
    const res = await api.call('POST', '/api/v1/wallet/resolve/batch', { token: alice.token, body: { user_ids: [bob.userId, carol] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { user_id: bob.userId, wallet_id: bob.walletId, wallet_status: 'active', payment_enabled: true },
        { user_id: carol, error: { code: 'NO_WALLET', message: 'User does not have a wallet' } },
      ],
      resolved_count: 1,
      total_count: 2,
    });
  });

  test('batch resolution validates its list', async () => {
    const { token, userId } = await registered();
    expectError(await api.call('POST', '/api/v1/wallet/resolve/batch', { token, body: { user_ids: [] } }), 400, 'INVALID_REQUEST', 'user_ids');
    expectError(await api.call('POST', '/api/v1/wallet/resolve/batch', { token, body: { user_ids: [userId, userId] } }), 400, 'INVALID_REQUEST', 'user_ids');
    expectError(await api.call('POST', '/api/v1/wallet/resolve/batch', { token, body: { user_ids: ['nope'] } }), 400, 'INVALID_REQUEST', 'user_ids.0');
    const many = Array.from({ length: 101 }, (_, i) => `@u${i}:tmcp.test`);
    expectError(await api.call('POST', '/api/v1/wallet/resolve/batch', { token, body: { user_ids: many } }), 400, 'INVALID_REQUEST', 'user_ids');
    const balanceOnly = await api.token(userId, ['wallet:balance']);
    expectError(await api.call('POST', '/api/v1/wallet/resolve/batch', { token: balanceOnly, body: { user_ids: [userId] } }), 403, 'INSUFFICIENT_PERMISSIONS');
  });
});

describe('GET /api/v1/wallet/verification', () => {
  test('answers the PROTO 6.4.2 shape', async () => {
    const { token } = await registered();
    const res = await api.call('GET', '/api/v1/wallet/verification', { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      level: 1,
      level_name: 'Basic',
      verified_at: null,
      limits: { daily_limit: 100000, transaction_limit: 50000, monthly_limit: 1000000, currency: 'USD' },
      features: { p2p_send: true, p2p_receive: true, miniapp_payments: true, withdrawals: true },
      can_upgrade: true,
    });
    expectError(await api.call('GET', '/api/v1/wallet/verification', { token: await api.token(newUser(), ALL) }), 404, 'NO_WALLET');
  });
});

describe('POST /api/v1/admin/wallets/:wallet_id/fund', () => {
  test('funds from the system account; a retried key returns the first result', async () => {
    const { walletId, token } = await registered();
    const first = await fund(walletId, { amount: 50.25, currency: 'USD', idempotency_key: `f-${walletId}` });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ wallet_id: walletId, amount: 50.25, currency: 'USD', type: 'deposit', status: 'completed' });
    const again = await fund(walletId, { amount: 50.25, currency: 'USD', idempotency_key: `f-${walletId}` });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const balance = await api.call('GET', '/api/v1/wallet/balance', { token });
    expect(balance.body.balance.available).toBe(50.25);
    expectError(await fund(walletId, { amount: 60, currency: 'USD', idempotency_key: `f-${walletId}` }), 409, 'DUPLICATE_TRANSACTION');
  });

  test('funds JPY in whole yen and refuses fractions', async () => {
    const token = await api.token(newUser(), ALL);
    const { wallet_id: walletId } = (await api.call('POST', '/api/v1/wallet/register', { token, body: { currency: 'JPY' } })).body;
    expect((await fund(walletId, { amount: 500, currency: 'JPY', idempotency_key: `j-${walletId}` })).body.amount).toBe(500);
    expectError(await fund(walletId, { amount: 1.5, currency: 'JPY', idempotency_key: `j2-${walletId}` }), 400, 'INVALID_REQUEST', 'amount');
  });

  test('funds a wallet only in its own currency: anything else could never be spent', async () => {
    const { walletId, token } = await registered();
    const refused = await fund(walletId, { amount: 500, currency: 'JPY', idempotency_key: `x-${walletId}` });
    expectError(refused, 400, 'CURRENCY_MISMATCH', 'currency');
    expect(refused.body.error.details).toMatchObject({ currency: 'JPY', wallet_currency: 'USD' });
    expect((await api.call('GET', '/api/v1/wallet/balance?currency=JPY', { token })).body.balance.available).toBe(0);
    // The database refuses the account by itself, whatever code tries to post to it.
    await expect(db.pool.query(sql.unsafe`INSERT INTO accounts (kind, owner, wallet_id, currency) VALUES ('wallet', ${walletId}, ${walletId}, 'JPY')`)).rejects.toThrow(/check integrity constraint/);
  });

  test('names the bad field for each kind of bad amount', async () => {
    const { walletId } = await registered();
    const base = { currency: 'USD', idempotency_key: `bad-${walletId}` };
    for (const amount of [-5, 0, 1.005, '1e3', 'ten', null, 1e16]) {
      expectError(await fund(walletId, { ...base, amount }), 400, 'INVALID_REQUEST', 'amount');
    }
    expectError(await fund(walletId, { ...base, amount: 1, currency: 'ABC' }), 400, 'INVALID_REQUEST', 'currency');
    expectError(await fund(walletId, { amount: 1, currency: 'USD' }), 400, 'INVALID_REQUEST', 'idempotency_key');
    expectError(await fund(walletId, { ...base, amount: 1, amout: 2 }), 400, 'INVALID_REQUEST', 'amout');
    expectError(await fund(walletId, { ...base, amount: 1, idempotency_key: 'has space' }), 400, 'INVALID_REQUEST', 'idempotency_key');
  });

  test('needs the admin token and an existing wallet', async () => {
    const { walletId, token } = await registered();
    const body = { amount: 1, currency: 'USD', idempotency_key: `a-${walletId}` };
    expectError(await api.call('POST', `/api/v1/admin/wallets/${walletId}/fund`, { body }), 401, 'INVALID_TOKEN');
    expectError(await fund(walletId, body, 'wrong-token'), 401, 'INVALID_TOKEN');
    expectError(await fund(walletId, body, token), 401, 'INVALID_TOKEN');
    expectError(await fund('tw_aaaaaaaaaaaaaaaaaaaaaaaa', body), 404, 'NO_WALLET');
    expectError(await fund('not-a-wallet', body), 404, 'NO_WALLET');
  });

  test('refuses to fund a closed wallet; validates status changes', async () => {
    const { walletId } = await registered();
    expectError(await api.call('PATCH', `/api/v1/admin/wallets/${walletId}`, { token: ADMIN_TOKEN, body: { status: 'gone' } }), 400, 'INVALID_REQUEST', 'status');
    expect((await api.call('PATCH', `/api/v1/admin/wallets/${walletId}`, { token: ADMIN_TOKEN, body: { status: 'closed' } })).status).toBe(200);
    expectError(await fund(walletId, { amount: 1, currency: 'USD', idempotency_key: `c-${walletId}` }), 403, 'WALLET_SUSPENDED');
  });
});

describe('errors and logs', () => {
  test('every error carries the request id that the response header names', async () => {
    const res = await api.call('GET', '/api/v1/wallet/balance', { headers: { 'x-request-id': 'client-chosen-id-1' } });
    expectError(res, 401, 'INVALID_TOKEN');
    expect(res.headers.get('x-request-id')).toBe('client-chosen-id-1');
    expect(res.body.error.request_id).toBe('client-chosen-id-1');
  });

  test('unknown routes and methods answer in the same error format', async () => {
    expectError(await api.call('GET', '/api/v1/nothing'), 404, 'NOT_FOUND');
    expectError(await api.call('DELETE', '/api/v1/wallet/balance'), 405, 'METHOD_NOT_ALLOWED');
    // fetch will not send TRACE; node's http client does. No route serves it: a 405, not a 501 (a 5xx).
    const trace = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${api.url}/api/v1/wallet/balance`, { method: 'TRACE' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect([trace.status, JSON.parse(trace.body).error.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });

  test('no token or admin secret ever reaches the logs', async () => {
    const { token } = await registered();
    await api.call('GET', `/api/v1/wallet/balance?access_token=${token}`, { token });
    expect(api.logs.length).toBeGreaterThan(10);
    const jwtBody = token.split('.')[2]!;
    for (const line of api.rawLogs) {
      expect(line).not.toContain(jwtBody);
      expect(line).not.toContain(ADMIN_TOKEN);
    }
    expect(api.logs.some((l) => l.msg === 'request' && l.path === '/api/v1/wallet/balance')).toBe(true);
  });
});
