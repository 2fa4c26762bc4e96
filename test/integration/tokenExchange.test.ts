import { decodeJwt } from 'jose';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { newUserId } from '../helpers/p2p';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';

/** Matrix Session Delegation (PROTO 4.3.1, RFC 8693) at POST /api/v1/oauth/token. */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  api = await startTestApi(db, {
    MATRIX_HOMESERVER_URL: hs.url,
    MATRIX_AS_TOKEN: 'as-token-exchange-0123456789abcdef',
    MATRIX_HS_TOKEN: 'hs-token-exchange-0123456789abcdef',
    MATRIX_SERVER_NAME: 'tmcp.test',
  });
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

function session(name: string) {
  const userId = newUserId(name);
  const token = `syt_${name}_${Math.random().toString(36).slice(2)}`;
  hs.addSession(token, userId);
  return { userId, token };
}

function exchange(fields: Record<string, string>) {
  return api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

const delegation = (subjectToken: string, extra: Record<string, string> = {}) =>
  exchange({ grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, client_id: 'ma_shop_001', ...extra });

test("exchanges the user's Matrix token for a TEP with the pre-approved scopes, creating the wallet", async () => {
  const alice = session('alice');
  const res = await delegation(alice.token, { miniapp_context: JSON.stringify({ room_id: '!abc:tmcp.test', launch_source: 'chat_bubble' }) });
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toMatchObject({
    token_type: 'Bearer',
    issued_token_type: 'urn:tmcp:params:oauth:token-type:tep',
    expires_in: 3600,
    scope: 'user:read storage:read storage:write',
    user_id: alice.userId,
    wallet_id: expect.stringMatching(/^tw_/),
    delegated_session: true,
  });
  const claims = decodeJwt(String(res.body.access_token).slice('tep.'.length));
  expect(claims).toMatchObject({
    sub: alice.userId,
    aud: 'ma_shop_001',
    client_id: 'ma_shop_001',
    scope: 'user:read storage:read storage:write',
    wallet_id: res.body.wallet_id,
    session_id: expect.stringMatching(/^ses_/),
    delegated_from: 'matrix_session',
    miniapp_context: { room_id: '!abc:tmcp.test', launch_source: 'chat_bubble' },
  });
  // The TEP works, within its scopes.
  const balance = await api.call('GET', '/api/v1/wallet/balance', { token: res.body.access_token });
  expect(balance.status).toBe(403);
  expect(balance.body.error).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS', details: { required_scope: 'wallet:balance' } });
});

test('asks consent for sensitive scopes, then grants them once the messenger approved', async () => {
  const bob = session('bob');
  const asked = await delegation(bob.token, { scope: 'user:read wallet:balance' });
  expect(asked.status).toBe(403);
  expect(asked.body).toEqual({
    error: 'consent_required',
    error_description: 'User must approve sensitive scopes',
    consent_required_scopes: ['wallet:balance'],
    pre_approved_scopes: ['user:read'],
    consent_ui_endpoint: '/api/v1/oauth/consent',
  });
  expect((await api.call('POST', '/api/v1/oauth/consent', { token: bob.token, body: { client_id: 'ma_shop_001', scopes: ['wallet:balance'] } })).status).toBe(200);
  // The same Matrix token: the consent_required answer did not use it up.
  const granted = await delegation(bob.token, { scope: 'user:read wallet:balance' });
  expect(granted.status).toBe(200);
  expect(granted.body.scope).toBe('user:read wallet:balance');
  expect((await api.call('GET', '/api/v1/wallet/balance', { token: granted.body.access_token })).status).toBe(200);
});

test('exchanges a Matrix token once per mini-app, however many requests race (PROTO 4.9.3)', async () => {
  const carol = session('carol');
  const answers = await Promise.all(Array.from({ length: 5 }, () => delegation(carol.token)));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400]);
  expect(answers.find((a) => a.status === 400)!.body.error).toBe('invalid_grant');
  const other = await exchange({ grant_type: EXCHANGE, subject_token: carol.token, subject_token_type: ACCESS_TOKEN, client_id: 'ma_demo' });
  expect(other.status).toBe(200);
});

test('answers every refusal in the RFC 6749 5.2 shape', async () => {
  const dave = session('dave');
  const cases: [Record<string, string>, number, string][] = [
    [{ client_id: 'ma_nobody' }, 401, 'invalid_client'],
    [{ scope: 'user:read room:create' }, 400, 'invalid_scope'],
    [{ subject_token: 'syt_not_a_session' }, 400, 'invalid_grant'],
    [{ subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, 400, 'invalid_request'],
    [{ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, 400, 'invalid_request'],
    [{ miniapp_context: '{not json' }, 400, 'invalid_request'],
    [{ grant_type: 'password' }, 400, 'unsupported_grant_type'],
    [{ subject_token: '' }, 400, 'invalid_request'],
  ];
  for (const [change, status, error] of cases) {
    const res = await delegation(dave.token, change);
    expect({ change, status: res.status, error: res.body.error }).toEqual({ change, status, error });
    expect(typeof res.body.error_description).toBe('string');
  }
  const json = await api.call('POST', '/api/v1/oauth/token', { body: { grant_type: EXCHANGE } });
  expect(json.status).toBe(400);
  expect(json.body.error).toBe('invalid_request');
  // None of the refusals used the token up.
  expect((await delegation(dave.token)).status).toBe(200);
});
