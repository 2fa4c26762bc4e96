import { readFileSync } from 'node:fs';
import { insertExternalAccount } from '../../src/db/externalAccounts';
import { insertTopUp } from '../../src/db/topups';
import { insertWithdrawal } from '../../src/db/withdrawals';
import { RATE_LIMIT_DEFAULTS, type RateCategory } from '../../src/domain/rateLimits';
import { ADMIN_TOKEN, startTestApi, type ApiResponse, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { initiate, MESSENGER_CLIENT, pinProof, walletUser, type TestUser } from '../helpers/p2p';

/**
 * docs/security.md is the one table of who may call what: every mounted route has a row, and each
 * row is tried with no credential, the wrong kind of credential, without its scope, on another
 * user's resource, with a revoked session and through a suspended client.
 */
interface Row {
  route: string;
  method: string;
  path: string;
  caller: string;
  scope: string;
  ownership: string;
  limit: string;
}

function tableRows(): Row[] {
  const doc = readFileSync('docs/security.md', 'utf8');
  const section = doc.slice(doc.indexOf('## Routes'));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => {
      const [route = '', caller = '', scope = '', ownership = '', limit = ''] = line.split('|').slice(1, -1).map((cell) => cell.trim());
      // `METHOD path`, then any other path of the same route (PROTO's), each a row of its own.
      const [first = '', ...aliases] = [...route.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      const [method = '', path = ''] = first.split(' ');
      return [path, ...aliases].map((p) => ({ route: `${method} ${p}`, method, path: p, caller, scope, ownership, limit }));
    });
}

const rows = tableRows();
const TEP_CALLERS = new Set(['mini-app', 'mini-app or Matrix', 'mini-app or merchant', 'mini-app or merchant or operator', 'messenger']);
const MERCHANT_CALLERS = new Set(['merchant', 'merchant or operator']);
const ALL_SCOPES = ['user:read', 'wallet:balance', 'wallet:pay', 'wallet:history', 'storage:read', 'storage:write', 'messaging:send', 'room:create', 'room:invite'];
// A distinct limit per category, so the X-RateLimit-Limit a route answers names its bucket.
const CATEGORIES = Object.keys(RATE_LIMIT_DEFAULTS) as RateCategory[];
const limitOf = (category: RateCategory) => 5000 + CATEGORIES.indexOf(category);

let db: TestDatabase;
let api: TestApi;
let owner: TestUser;
let stranger: TestUser;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const merchants: Record<string, string> = {};

async function admin(method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const res = await api.call(method, `/api/v1/admin${path}`, { token: ADMIN_TOKEN, body });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

beforeAll(async () => {
  db = await freshDatabase();
  api = await startTestApi(db, { RATE_LIMITS: CATEGORIES.map((c) => `${c}=${limitOf(c)}/1m/0`).join(','), RATE_LIMIT_SCALE: '1' });

  // Two confidential merchant backends, a hybrid front end (a public client), and two apps to suspend.
  const app = (name: string, extra: Record<string, unknown>) =>
    admin('POST', '/mini-apps', { name, scopes: ALL_SCOPES, pre_approved_scopes: ALL_SCOPES, ...extra }).then((r) => r.body);
  for (const name of ['merchant', 'rival']) {
    const created = await app(`Shop ${name}`, { client_type: 'confidential' });
    ids[`${name}Client`] = created.client_id;
    merchants[name] = basic(created.client_id, created.client_secret);
  }
  ids.frontEnd = (await app('Hybrid shop', { client_type: 'hybrid' })).client_id;
  ids.suspendedApp = (await app('Suspended app', { client_type: 'public' })).client_id;
  // The operator's DELETE is called for real (the rate-limit row): on an app of its own.
  ids.doomedApp = (await app('Deleted app', { client_type: 'public' })).client_id;
  ids.suspendedMessenger = (await app('Suspended messenger', { client_type: 'public', first_party: true })).client_id;

  owner = await walletUser(api, { name: 'owner', fund: '100.00' });
  stranger = await walletUser(api, { name: 'stranger', fund: '100.00' });
  const recipient = await walletUser(api, { name: 'recipient' });

  // The owner's resources: a ledger entry (the funding), a transfer, a payment to the merchant, a stored value.
  ids.txn_id = (await api.call('GET', '/api/v1/wallet/transactions', { token: owner.token })).body.transactions[0].txn_id;
  const transfer = await initiate(api, owner, { recipient: recipient.userId, amount: '1.00' });
  expect(transfer.status).toBe(201);
  ids.transfer_id = transfer.body.transfer_id;
  const payment = await api.call('POST', '/api/v1/payments/request', {
    token: await api.token(owner.userId, ALL_SCOPES, ids.merchantClient),
    body: { amount: '2.00', currency: 'USD', description: 'Tea', merchant_order_id: 'T-1', idempotency_key: 'route-table-payment' },
  });
  expect(payment.status).toBe(201);
  ids.payment_id = payment.body.payment_id;
  ids.topup_id = (
    await insertTopUp(db.pool, {
      id: 'top_aaaaaaaaaaaaaaaaaaaaaaaa',
      userId: owner.userId,
      walletId: owner.walletId,
      clientId: 'ma_demo',
      provider: 'simulator',
      amount: 100n,
      currency: 'USD',
      idempotencyKey: 'route-table-topup',
      requestHash: 'x',
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 60_000),
    })
  ).topUp.id;
  // An external account and a withdrawal of the owner, and of the merchant.
  for (const [kind, ownerId, prefix] of [['user', owner.userId, 'own'], ['merchant', ids.merchantClient!, 'shp']] as const) {
    const { account } = await insertExternalAccount(db.pool, {
      id: `xa_${prefix}aaaaaaaaaaaaaaaaaaaaa`,
      owner: { kind, id: ownerId },
      provider: 'simulator',
      providerToken: `sim_ba_${prefix}`,
      accountType: 'bank_account',
      label: 'Simulated Bank •••• 1234',
      currency: 'USD',
      idempotencyKey: 'route-table-account',
      requestHash: 'x',
    });
    const { withdrawal } = await insertWithdrawal(db.pool, {
      id: `wd_${prefix}aaaaaaaaaaaaaaaaaaaaa`,
      owner: { kind, id: ownerId },
      walletId: kind === 'user' ? owner.walletId : null,
      clientId: null,
      externalAccountId: account.id,
      provider: 'simulator',
      amount: 100n,
      currency: 'USD',
      idempotencyKey: 'route-table-withdrawal',
      requestHash: 'x',
      createdAt: new Date(),
      deadlineAt: new Date(Date.now() + 60_000),
    });
    ids[`${kind}Account`] = account.id;
    ids[`${kind}Withdrawal`] = withdrawal.id;
  }
  expect((await api.call('PUT', '/api/v1/storage/secret-note', { token: await api.token(owner.userId, ALL_SCOPES), body: { value: 'mine' } })).status).toBeLessThan(300);

  // A revoked session of an ordinary app and of the messenger.
  tokens.revoked = await api.token('@revoked:tmcp.test', ALL_SCOPES);
  tokens.revokedMessenger = await api.token('@revoked:tmcp.test', ALL_SCOPES, MESSENGER_CLIENT);
  for (const [clientId, token] of [['ma_demo', tokens.revoked], [MESSENGER_CLIENT, tokens.revokedMessenger]] as const) {
    const revoked = await api.call('POST', '/api/v1/oauth2/revoke', {
      raw: new URLSearchParams({ client_id: clientId, token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(revoked.status).toBe(200);
  }
  // Tokens minted while their clients were active, then the clients suspended.
  tokens.suspended = await api.token('@suspended:tmcp.test', ALL_SCOPES, ids.suspendedApp);
  tokens.suspendedMessenger = await api.token('@suspended:tmcp.test', ALL_SCOPES, ids.suspendedMessenger);
  await admin('PATCH', `/mini-apps/${ids.suspendedApp}`, { status: 'suspended' });
  await admin('PATCH', `/mini-apps/${ids.suspendedMessenger}`, { status: 'suspended' });
  // Developers: the owner's app, another developer (the stranger), one taken off the whitelist, one whose app is deleted.
  const enroll = async (userId: string) => (await admin('POST', '/developers', { user_id: userId })).body.access_token as string;
  tokens.developer = await enroll(owner.userId);
  tokens.strangerDeveloper = await enroll(stranger.userId);
  tokens.revokedDeveloper = await enroll('@gone-dev:tmcp.test');
  await admin('DELETE', `/developers/${encodeURIComponent('@gone-dev:tmcp.test')}`);
  const register = async (name: string) =>
    (await api.call('POST', '/mini-apps/v1/register', { token: tokens.developer, body: { name, technical: { client_type: 'hybrid', scopes_requested: ['user:read'], webhook_url: 'https://dev.example/hooks' } } })).body.miniapp_id as string;
  ids.devApp = await register('Developer app');
  ids.doomedDevApp = await register('Developer app to delete');
  await admin('POST', `/mini-apps/${ids.devApp}/review`, { decision: 'reject', reason: 'needs a privacy policy' });
  const suspendedMerchant = await admin('POST', '/mini-apps', { name: 'Suspended shop', client_type: 'confidential', scopes: ALL_SCOPES });
  merchants.suspended = basic(suspendedMerchant.body.client_id, suspendedMerchant.body.client_secret);
  await admin('PATCH', `/mini-apps/${suspendedMerchant.body.client_id}`, { status: 'suspended' });
});
afterAll(async () => {
  await api?.close();
  await db?.close();
});

/** The row's path with its parameters filled: the owner's resources where there are some. */
function pathOf(row: Row): string {
  const side = row.path.startsWith('/api/v1/merchant') ? 'merchant' : 'user';
  const values: Record<string, string> = {
    account_id: ids[`${side}Account`]!,
    withdrawal_id: ids[`${side}Withdrawal`]!,
    transfer_id: ids.transfer_id!,
    txn_id: ids.txn_id!,
    topup_id: ids.topup_id!,
    payment_id: ids.payment_id!,
    key: 'secret-note',
    event_id: 'evt_aaaaaaaaaaaaaaaaaaaaaaaa',
    gift_id: 'gift_aaaaaaaaaaaaaaaaaaaaaaaa',
    user_id: '@someone:tmcp.test',
    client_id: row.method === 'DELETE' && row.path.startsWith('/api/v1/admin/mini-apps') ? ids.doomedApp! : 'ma_demo',
    miniapp_id: row.method === 'DELETE' ? ids.doomedDevApp! : ids.devApp!,
    wallet_id: owner.walletId,
    suspension_id: 'sus_aaaaaaaaaaaaaaaaaaaaaaaa',
    txnId: 'txn1',
    userId: '@someone:tmcp.test',
    alias: '#room:tmcp.test',
    protocol: 'tween',
  };
  return row.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(values[name] ?? name));
}

/** What a caller that got past the gates would send, so an ownership check is what answers. */
function bodyOf(row: Row): unknown {
  if (row.path.endsWith('/confirm')) return pinProof();
  if (row.path === '/api/v1/payments/:payment_id/authorize') return { signature: Buffer.alloc(64).toString('base64'), device_id: 'phone', timestamp: new Date().toISOString() };
  if (row.path.endsWith('/mfa/verify')) return { challenge_id: 'mfa_aaaaaaaaaaaaaaaaaaaaaaaa', method: 'transaction_pin', credentials: { pin: '1234' } };
  if (row.path.endsWith('/refund')) return { amount: '1.00', reason: 'test', idempotency_key: 'refund-1' };
  if (row.path.endsWith('/reject')) return { reason: 'no' };
  if (row.path === '/mini-apps/v1/:miniapp_id' && row.method === 'PATCH') return { name: 'Taken over' };
  if (row.path.endsWith('/appeal')) return { reason: 'let me in' };
  return row.method === 'GET' || row.method === 'DELETE' ? undefined : {};
}

function call(row: Row, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const body = bodyOf(row);
  return api.call(row.method, pathOf(row), {
    headers: row.caller === 'client' ? { 'content-type': 'application/x-www-form-urlencoded', ...headers } : headers,
    ...(row.caller === 'client' ? { raw: '' } : body === undefined ? {} : { body }),
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const answer = (res: ApiResponse) => [res.status, res.body?.error?.code ?? res.body?.errcode ?? res.body?.error];

test('every mounted route has exactly one row, and every row is a mounted route', () => {
  const documented = rows.map((r) => r.route);
  expect(new Set(documented).size).toBe(documented.length);
  expect([...api.routes].sort()).toEqual([...documented].sort());
});

test('/openapi.json describes every mounted route, for the callers its row names', async () => {
  const res = await api.call('GET', '/openapi.json');
  expect([res.status, res.body.openapi]).toEqual([200, '3.1.0']);
  const paths = res.body.paths as Record<string, Record<string, { tags: string[]; summary: string }>>;
  const described = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
  expect(described.sort()).toEqual(api.routes.map((route) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')).sort());
  for (const row of rows) {
    const op = paths[row.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[row.method.toLowerCase()];
    const callers = row.caller.toLowerCase().split(' or ').sort();
    expect([row.route, [...(op?.tags ?? [])].sort(), typeof op?.summary]).toEqual([row.route, callers, 'string']);
  }
});

test('every row names a known kind of caller and a known rate-limit category', () => {
  const callers = new Set([...TEP_CALLERS, ...MERCHANT_CALLERS, 'operator', 'developer', 'Synapse', 'provider', 'client', 'browser', 'anyone']);
  for (const row of rows) {
    expect([row.route, callers.has(row.caller)]).toEqual([row.route, true]);
    const category = row.limit.split(/[ ,]/)[0]!;
    expect([row.route, category === '—' || CATEGORIES.includes(category as RateCategory)]).toEqual([row.route, true]);
  }
});

describe.each(rows.map((row) => [row.route, row] as const))('%s', (_route, row) => {
  const scoped = row.scope !== '';

  test('no credential', async () => {
    const res = await call(row);
    if (row.caller === 'anyone') return expect(res.status).toBe(200);
    // A form posted without the token of the page that showed it is refused; a page answers for
    // itself (a form, a redirect, 400 for missing parameters, 503 for SSO without a homeserver).
    if (row.caller === 'browser') return row.method === 'POST' ? expect(res.status).toBe(403) : expect([401, 403, 500]).not.toContain(res.status);
    if (row.caller === 'Synapse') return expect(answer(res)).toEqual([401, 'M_UNAUTHORIZED']);
    if (row.caller === 'provider') return expect(answer(res)).toEqual([401, 'INVALID_SIGNATURE']);
    // OAuth endpoints answer RFC 6749's error, not ours.
    if (row.caller === 'client') return expect([[400, 401].includes(res.status), typeof res.body.error]).toEqual([true, 'string']);
    expect(answer(res)).toEqual([401, 'INVALID_TOKEN']);
  });

  test('the wrong kind of credential', async () => {
    const appToken = await api.token(owner.userId, ALL_SCOPES);
    if (row.caller === 'anyone' || row.caller === 'browser') return;
    if (row.caller === 'messenger') {
      // An ordinary mini-app's TEP, whatever its scopes.
      return expect(answer(await call(row, bearer(appToken)))).toEqual([403, 'INSUFFICIENT_PERMISSIONS']);
    }
    // The refund takes a TEP, a merchant backend or the operator: a front-end (public) client is none of them.
    if (row.caller === 'mini-app or merchant or operator') return expect(answer(await call(row, { authorization: basic(ids.frontEnd!, '') }))).toEqual([401, 'INVALID_TOKEN']);
    if (TEP_CALLERS.has(row.caller)) return expect(answer(await call(row, bearer(ADMIN_TOKEN)))).toEqual([401, 'INVALID_TOKEN']);
    if (MERCHANT_CALLERS.has(row.caller)) {
      // A TEP, and a front-end (public) client, are not a merchant backend.
      expect(answer(await call(row, bearer(appToken)))).toEqual([401, 'INVALID_TOKEN']);
      return expect(answer(await call(row, { authorization: basic(ids.frontEnd!, '') }))).toEqual([401, 'INVALID_TOKEN']);
    }
    if (row.caller === 'operator') return expect(answer(await call(row, bearer(appToken)))).toEqual([401, 'INVALID_TOKEN']);
    // A TEP, and the operator's token, are not a developer's.
    if (row.caller === 'developer') {
      expect(answer(await call(row, bearer(appToken)))).toEqual([401, 'INVALID_TOKEN']);
      return expect(answer(await call(row, bearer(ADMIN_TOKEN)))).toEqual([401, 'INVALID_TOKEN']);
    }
    if (row.caller === 'Synapse') return expect(answer(await call(row, bearer(appToken)))).toEqual([403, 'M_FORBIDDEN']);
    if (row.caller === 'provider') return expect(answer(await call(row, bearer(appToken)))).toEqual([401, 'INVALID_SIGNATURE']);
    // client: a TEP is not client authentication.
    const res = await call(row, bearer(appToken));
    expect([[400, 401].includes(res.status), typeof res.body.error]).toEqual([true, 'string']);
  });

  test('without the scope', async () => {
    if (!scoped) return;
    const others = ALL_SCOPES.filter((s) => s !== row.scope);
    const clientId = row.caller === 'messenger' ? MESSENGER_CLIENT : 'ma_demo';
    const res = await call(row, bearer(await api.token(owner.userId, others, clientId)));
    expect(answer(res)).toEqual([403, 'INSUFFICIENT_PERMISSIONS']);
  });

  test("on another user's resource", async () => {
    if (!row.ownership.includes('else 404')) return;
    let res: ApiResponse;
    if (MERCHANT_CALLERS.has(row.caller)) {
      res = await call(row, { authorization: merchants.rival! });
    } else if (row.caller === 'developer') {
      res = await call(row, bearer(tokens.strangerDeveloper!));
    } else {
      // The stranger, through the app the owner used.
      const clientId = row.caller === 'messenger' ? MESSENGER_CLIENT : row.path.startsWith('/api/v1/payments') ? ids.merchantClient : 'ma_demo';
      res = await call(row, bearer(await api.token(stranger.userId, ALL_SCOPES, clientId)));
    }
    expect(res.status).toBe(404);
  });

  test('with a revoked session, and through a suspended client', async () => {
    if (TEP_CALLERS.has(row.caller)) {
      const messenger = row.caller === 'messenger';
      expect(answer(await call(row, bearer(messenger ? tokens.revokedMessenger! : tokens.revoked!)))).toEqual([401, 'INVALID_TOKEN']);
      expect(answer(await call(row, bearer(messenger ? tokens.suspendedMessenger! : tokens.suspended!)))).toEqual([401, 'INVALID_TOKEN']);
    }
    if (MERCHANT_CALLERS.has(row.caller)) expect(answer(await call(row, { authorization: merchants.suspended! }))).toEqual([401, 'INVALID_TOKEN']);
    if (row.caller === 'developer') expect(answer(await call(row, bearer(tokens.revokedDeveloper!)))).toEqual([401, 'INVALID_TOKEN']);
  });

  test('spends the documented rate-limit bucket', async () => {
    const category = row.limit.split(/[ ,]/)[0]!;
    let headers: Record<string, string> = {};
    if (TEP_CALLERS.has(row.caller)) {
      headers = bearer(await api.token(owner.userId, ALL_SCOPES, row.caller === 'messenger' ? MESSENGER_CLIENT : 'ma_demo'));
    } else if (MERCHANT_CALLERS.has(row.caller)) {
      headers = { authorization: merchants.merchant! };
    } else if (row.caller === 'operator') {
      headers = bearer(ADMIN_TOKEN);
    } else if (row.caller === 'developer') {
      // A fresh token each time: the revoke row revokes the one it is called with.
      headers = bearer((await admin('POST', '/developers', { user_id: owner.userId })).body.access_token);
    }
    const res = await call(row, headers);
    expect([row.route, res.headers.get('x-ratelimit-limit')]).toEqual([row.route, category === '—' ? null : String(limitOf(category as RateCategory))]);
  });
});
