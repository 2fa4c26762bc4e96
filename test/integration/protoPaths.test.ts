import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN, type ApiResponse, type TestApi } from '../helpers/api';
import { startMatrixStack, type MatrixStack } from '../helpers/matrixStack';
import { MESSENGER_CLIENT, PIN, pinProof } from '../helpers/p2p';
import { stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * A client written to PROTO itself: each flow through PROTO's own paths (`/oauth2/...`,
 * `/wallet/v1/...`), served by the same routers as the original README's `/api/v1/...`.
 */
let stack: MatrixStack;
let hs: StubHomeserver;
let api: TestApi;

beforeAll(async () => {
  stack = await startMatrixStack('proto-paths', { workerMatrix: false });
  ({ hs, api } = stack);
});
afterAll(async () => {
  await stack?.close();
});

const form = (path: string, fields: Record<string, string>) =>
  api.call('POST', path, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const ok = (res: ApiResponse, status = 200) => {
  expect([res.status, res.body?.error]).toEqual([status, undefined]);
  return res.body;
};

/** PROTO 4.3.1: the messenger exchanges the user's Matrix token at /oauth2/token for a TEP of the mini-app. */
async function signedIn(name: string, clientId = 'ma_demo', scope = 'user:read wallet:balance wallet:pay wallet:history') {
  const session = stubSession(hs, name);
  // The homeserver profile that resolve answers carry (and the TEP's user_context).
  hs.setUserProfile(session.userId, { displayname: name[0]!.toUpperCase() + name.slice(1), avatar_url: `mxc://tmcp.test/${name}` });
  await api.call('POST', '/oauth2/consent', { token: await api.token(session.userId, ['user:read'], MESSENGER_CLIENT), body: { client_id: clientId, scopes: scope.split(' ') } });
  const tokens = ok(
    await form('/oauth2/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: session.token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: clientId,
      scope,
    }),
  );
  const tep = tokens.access_token as string;
  // PROTO 6.3.4: the wallet, registered at /wallet/v1/register.
  const wallet = await api.call('POST', '/wallet/v1/register', { token: tep, body: {} });
  expect([201, 200]).toContain(wallet.status);
  return { ...session, tep, walletId: wallet.body.wallet_id as string, messenger: await api.token(session.userId, ['user:read', 'wallet:pay'], MESSENGER_CLIENT) };
}

test('sign-in (PROTO 4.3): token exchange, consent and the device grant at /oauth2', async () => {
  const alice = await signedIn('alice');
  expect(alice.tep).toMatch(/^tep\./);
  // PROTO 4.3.2: a device asks at /oauth2/device/authorization and polls /oauth2/token.
  const grant = ok(await form('/oauth2/device/authorization', { client_id: 'ma_demo', scope: 'user:read' }));
  expect(grant).toMatchObject({ device_code: expect.any(String), user_code: expect.any(String) });
  const pending = await form('/oauth2/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: grant.device_code, client_id: 'ma_demo' });
  expect([pending.status, pending.body.error]).toEqual([400, 'authorization_pending']);
  // PROTO 4.3.3: the authorization page answers at PROTO's path as at ours.
  const query = new URLSearchParams({ response_type: 'code', client_id: 'ma_demo', scope: 'user:read', state: 's', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
  const [proto, ours] = await Promise.all(['/oauth2/authorize', '/api/v1/oauth/authorize'].map((path) => fetch(`${api.url}${path}?${query}`, { redirect: 'manual' })));
  expect([proto!.status, proto!.headers.get('content-type')]).toEqual([ours!.status, ours!.headers.get('content-type')]);
  expect(proto!.status).not.toBe(404);
  // The consents the messenger gave, listed and withdrawn at /oauth2/consent.
  const consents = ok(await api.call('GET', '/oauth2/consent', { token: alice.messenger }));
  expect(consents.consents.map((c: { client_id: string }) => c.client_id)).toContain('ma_demo');
});

test('capabilities (PROTO 10.5) follow the token: its scopes, the wallet and the payment factors', async () => {
  const frank = await signedIn('frank');
  const paying = ok(await api.call('GET', '/api/v1/capabilities', { token: frank.tep }));
  expect(paying).toMatchObject({
    capabilities: { payment: { available: true, max_amount: expect.any(Number), currency: 'USD' }, storage: { available: false }, biometric: { available: false, types: [] } },
    platform: { tmcp_version: '1.0' },
  });
  ok(await api.call('POST', '/wallet/v1/pin', { token: frank.messenger, body: { pin: PIN } }), 201);
  const storing = ok(await api.call('GET', '/api/v1/capabilities', { token: await api.token(frank.userId, ['storage:read']) }));
  // Without wallet:pay the app learns nothing of the user's wallet or factors.
  expect(storing.capabilities).toEqual(expect.objectContaining({ payment: { available: false, providers: ['wallet'] }, storage: expect.objectContaining({ available: true }), biometric: { available: false, types: [] } }));
  const payingNow = ok(await api.call('GET', '/api/v1/capabilities', { token: frank.tep }));
  expect(payingNow.capabilities.biometric).toEqual({ available: false, types: ['pin'] });
});

test('the wallet (PROTO 6): register, balance, history, verification, and resolve with the homeserver profile, at /wallet/v1', async () => {
  const bob = await signedIn('bob');
  expect(bob.walletId).toMatch(/^tw_/);
  await api.call('POST', `/api/v1/admin/wallets/${bob.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '20.00', currency: 'USD', idempotency_key: 'proto-fund' } });
  expect(ok(await api.call('GET', '/wallet/v1/balance', { token: bob.tep })).balance.available).toBe(20);
  expect(ok(await api.call('GET', '/wallet/v1/transactions', { token: bob.tep })).transactions).toHaveLength(1);
  expect(ok(await api.call('GET', '/wallet/v1/verification', { token: bob.tep }))).toHaveProperty('level');
  const carol = await signedIn('carol');
  // Resolving needs a room both are in (PROTO 6.3.7): the homeserver says so.
  const room = '!shared:tmcp.test';
  const joined = { status: 200, body: { joined: { [bob.userId]: {}, [carol.userId]: {} } } };
  hs.replyFor('joined_members', room, joined, joined);
  const query = `?room_id=${encodeURIComponent(room)}`;
  const named = { user_id: carol.userId, display_name: 'Carol', avatar_url: 'mxc://tmcp.test/carol', wallet_id: carol.walletId };
  expect(ok(await api.call('GET', `/wallet/v1/resolve/${encodeURIComponent(carol.userId)}${query}`, { token: bob.tep }))).toMatchObject(named);
  const batch = ok(await api.call('POST', '/wallet/v1/resolve/batch', { token: bob.tep, body: { user_ids: [carol.userId], room_id: room } }));
  expect([batch.resolved_count, batch.results[0]]).toEqual([1, expect.objectContaining(named)]);
  // Asked about a room's members (6.3.9): the users map too, with an invitation for one without a wallet.
  const walletless = stubSession(hs, 'gina');
  const party = '!party:tmcp.test';
  hs.replyFor('joined_members', party, { status: 200, body: { joined: { [bob.userId]: {}, [carol.userId]: {}, [walletless.userId]: {} } } });
  const members = ok(await api.call('POST', '/wallet/v1/resolve/batch', { token: bob.tep, body: { user_ids: [carol.userId, walletless.userId], room_id: party } }));
  expect(members.users).toEqual({
    [carol.userId]: { has_wallet: true, wallet_status: 'active', display_name: 'Carol' },
    [walletless.userId]: { has_wallet: false, wallet_status: 'none', invite_url: `tween://invite-wallet?user=${walletless.userId}` },
  });
});

test('money (PROTO 7): a PIN at /wallet/v1, then a P2P transfer and a gift in a room through their sagas', async () => {
  const dave = await signedIn('dave');
  const erin = await signedIn('erin');
  await api.call('POST', `/api/v1/admin/wallets/${dave.walletId}/fund`, { token: ADMIN_TOKEN, body: { amount: '30.00', currency: 'USD', idempotency_key: 'proto-fund-dave' } });
  ok(await api.call('POST', '/wallet/v1/pin', { token: dave.messenger, body: { pin: PIN } }), 201);
  // Sent in a room both are in (PROTO 6.3.7), as the homeserver says.
  const room = '!pay:tmcp.test';
  // The payments bot is there too: it announces and pays out gifts.
  const members = { status: 200, body: { joined: { [dave.userId]: {}, [erin.userId]: {}, '@_tmcp_payments:tmcp.test': {} } } };
  hs.replyFor('joined_members', room, members, members, members, members, members, members);
  const initiated = ok(await api.call('POST', '/wallet/v1/p2p/initiate', { token: dave.tep, body: { recipient: erin.userId, amount: '12.50', currency: 'USD', room_id: room, idempotency_key: 'proto-p2p' } }), 201);
  const confirmed = ok(await api.call('POST', `/wallet/v1/p2p/${initiated.transfer_id}/confirm`, { token: dave.tep, body: pinProof() }));
  expect(confirmed.status).toBe('completed');
  expect(ok(await api.call('GET', `/wallet/v1/p2p/${initiated.transfer_id}`, { token: erin.tep })).status).toBe('completed');
  expect(ok(await api.call('GET', '/wallet/v1/balance', { token: erin.tep })).balance.available).toBe(12.5);
  // The receipt (PROTO 4.11.4): the entry as each side's history shows it.
  const [received] = ok(await api.call('GET', '/wallet/v1/transactions', { token: erin.tep })).transactions;
  expect(ok(await api.call('GET', `/wallet/v1/transactions/${received.txn_id}`, { token: erin.tep }))).toEqual(received);
  expect(ok(await api.call('GET', `/wallet/v1/transactions/${received.txn_id}`, { token: dave.tep }))).toMatchObject({ txn_id: received.txn_id, direction: 'debit', amount: 12.5 });
  // PROTO 7.5: a gift in the same room, created and opened at /wallet/v1/gift.
  hs.replyFor('joined_members', room, members, members, members, members, members, members);
  const gift = ok(
    await api.call('POST', '/wallet/v1/gift/create', {
      token: dave.tep,
      body: { type: 'individual', recipient: erin.userId, amount: '5.00', currency: 'USD', room_id: room, message: 'For you', idempotency_key: 'proto-gift', ...pinProof() },
    }),
    201,
  );
  expect(ok(await api.call('POST', `/wallet/v1/gift/${gift.gift_id}/open`, { token: erin.tep, body: {} })).amount_received).toBe(5);
  expect(ok(await api.call('GET', '/wallet/v1/balance', { token: erin.tep })).balance.available).toBe(17.5);
});

test('docs/protocol.md: every PROTO path it marks served is mounted', () => {
  const rows = readFileSync('docs/protocol.md', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .map(([, path = '', , here = '']) => ({ route: path.replace(/`/g, ''), here }));
  const served = rows.filter((r) => r.here === 'served').map((r) => r.route);
  expect(served.length).toBeGreaterThan(30);
  expect(served.filter((route) => !api.routes.includes(route))).toEqual([]);
});
