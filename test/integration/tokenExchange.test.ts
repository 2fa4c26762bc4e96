import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { sql } from 'slonik';
import { z } from 'zod';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { newUserId } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/** Matrix Session Delegation (PROTO 4.3.1, RFC 8693) at POST /api/v1/oauth/token. */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  api = await startTestApi(db, stubMatrixEnv(hs, 'exchange'));
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

const session = (name: string) => stubSession(hs, name);

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
  hs.setUserProfile(alice.userId, { displayname: 'Alice', avatar_url: 'mxc://tmcp.test/alice' });
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
    // PROTO 4.10: from the homeserver profile.
    user_context: { display_name: 'Alice', avatar_url: 'mxc://tmcp.test/alice' },
  });
  // The TEP works, within its scopes.
  const balance = await api.call('GET', '/api/v1/wallet/balance', { token: res.body.access_token });
  expect(balance.status).toBe(403);
  expect(balance.body.error).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS', details: { required_scope: 'wallet:balance' } });
});

test('a TEP carries user_context only when it carries user:read, at the exchange and at every refresh (privacy)', async () => {
  const frank = session('frank');
  hs.setUserProfile(frank.userId, { displayname: 'Frank', avatar_url: 'mxc://tmcp.test/frank' });
  const res = await delegation(frank.token, { scope: 'storage:read' });
  expect(res.status).toBe(200);
  expect(decodeJwt(String(res.body.access_token).slice('tep.'.length))).not.toHaveProperty('user_context');
  const refreshed = await api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'ma_shop_001', refresh_token: res.body.refresh_token }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(refreshed.status).toBe(200);
  expect(decodeJwt(String(refreshed.body.access_token).slice('tep.'.length))).not.toHaveProperty('user_context');
  // With user:read it is there, and a refresh narrowed to drop user:read drops it too.
  hs.addSession('syt_frank_again', frank.userId);
  const full = await delegation('syt_frank_again');
  expect(decodeJwt(String(full.body.access_token).slice('tep.'.length)).user_context).toEqual({ display_name: 'Frank', avatar_url: 'mxc://tmcp.test/frank' });
  const narrowed = await api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'ma_shop_001', refresh_token: full.body.refresh_token, scope: 'storage:read' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(narrowed.status).toBe(200);
  expect(decodeJwt(String(narrowed.body.access_token).slice('tep.'.length))).not.toHaveProperty('user_context');
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
    [{ subject_token: 'syt_not_a_session' }, 401, 'invalid_grant'], // PROTO 12.3
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

describe('refresh tokens', () => {
  const refresh = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    api.call('POST', '/api/v1/oauth/token', {
      raw: new URLSearchParams({ grant_type: 'refresh_token', ...fields }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  it('rotates on every use, keeps only hashes, and a used one revokes the whole session with its TEPs', async () => {
    const erin = session('erin');
    const first = await delegation(erin.token, { scope: 'user:read storage:write' });
    expect(first.body.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    const stored = await db.pool.anyFirst(sql.type(z.object({ token_hash: z.string() }))`SELECT token_hash FROM refresh_tokens`);
    expect(stored).toContain(createHash('sha256').update(first.body.refresh_token).digest('hex'));
    expect(stored).not.toContain(first.body.refresh_token);

    const second = await refresh({ client_id: 'ma_shop_001', refresh_token: first.body.refresh_token });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ token_type: 'Bearer', scope: 'user:read storage:write', refresh_token: expect.stringMatching(/^rt_/) });
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    const sessionOf = (tep: string) => decodeJwt(tep.slice('tep.'.length)).session_id;
    expect(sessionOf(second.body.access_token)).toBe(sessionOf(first.body.access_token));
    // A narrower scope narrows this TEP only; a wider one is refused.
    expect((await refresh({ client_id: 'ma_shop_001', refresh_token: second.body.refresh_token, scope: 'wallet:pay' })).body.error).toBe('invalid_scope');
    const narrow = await refresh({ client_id: 'ma_shop_001', refresh_token: second.body.refresh_token, scope: 'user:read' });
    expect(narrow.body.scope).toBe('user:read');

    // The first token again: it leaked. The family is revoked, the newest refresh token too, and the TEPs.
    const tep = narrow.body.access_token;
    const profileCheck = () => api.call('GET', '/api/v1/wallet/balance', { token: tep });
    expect((await profileCheck()).body.error.code).toBe('INSUFFICIENT_PERMISSIONS'); // a valid token without wallet:balance
    const replay = await refresh({ client_id: 'ma_shop_001', refresh_token: first.body.refresh_token });
    expect(replay.body).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh({ client_id: 'ma_shop_001', refresh_token: narrow.body.refresh_token })).body.error).toBe('invalid_grant');
    const refused = await eventually(profileCheck, (r) => r.status === 401, 5000);
    expect(refused.body.error.code).toBe('INVALID_TOKEN');
  });

  it('wants a confidential client to authenticate, by Basic or in the form, and a token of its own', async () => {
    const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Shop backend', client_type: 'confidential', scopes: ['user:read', 'storage:read'], pre_approved_scopes: ['user:read'] },
    })).body;
    const frank = session('frank');
    const granted = await exchange({ grant_type: EXCHANGE, subject_token: frank.token, subject_token_type: ACCESS_TOKEN, client_id: app.client_id });
    expect(granted.status).toBe(200);
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

    const noSecret = await refresh({ client_id: app.client_id, refresh_token: granted.body.refresh_token });
    expect([noSecret.status, noSecret.body.error]).toEqual([401, 'invalid_client']);
    const wrong = await refresh({ refresh_token: granted.body.refresh_token }, basic(app.client_id, 'cs_wrong'));
    expect([wrong.status, wrong.body.error]).toEqual([401, 'invalid_client']);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    // Another client cannot use it.
    expect((await refresh({ client_id: 'ma_shop_001', refresh_token: granted.body.refresh_token })).body.error).toBe('invalid_grant');

    const byBasic = await refresh({ refresh_token: granted.body.refresh_token }, basic(app.client_id, app.client_secret));
    expect(byBasic.status).toBe(200);
    const byPost = await refresh({ client_id: app.client_id, client_secret: app.client_secret, refresh_token: byBasic.body.refresh_token });
    expect(byPost.status).toBe(200);
  });
});

describe("the user withdrawing a mini-app's access (PROTO 5.6)", () => {
  it('revokes its sessions (TEPs and refresh tokens) and the approvals, so the next exchange asks again', async () => {
    const gina = session('gina');
    await api.call('POST', '/api/v1/oauth/consent', { token: gina.token, body: { client_id: 'ma_shop_001', scopes: ['wallet:balance'] } });
    const granted = await delegation(gina.token, { scope: 'user:read wallet:balance' });
    const balance = () => api.call('GET', '/api/v1/wallet/balance', { token: granted.body.access_token });
    expect((await balance()).status).toBe(200);

    const miniapp = await api.token(gina.userId, ['user:read'], 'ma_shop_001');
    expect((await api.call('POST', '/api/v1/auth/revoke', { token: miniapp, body: { client_id: 'ma_shop_001' } })).status).toBe(403);
    expect((await api.call('POST', '/api/v1/auth/revoke', { token: gina.token, body: { client_id: 'ma_nobody' } })).status).toBe(404);

    const revoked = await api.call('POST', '/api/v1/auth/revoke', { token: gina.token, body: { client_id: 'ma_shop_001' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ user_id: gina.userId, client_id: 'ma_shop_001', revoked: true, revoked_sessions: 1, withdrawn_scopes: ['wallet:balance'] });
    expect((await eventually(balance, (r) => r.status === 401, 5000)).body.error.code).toBe('INVALID_TOKEN');
    const refreshed = await api.call('POST', '/api/v1/oauth/token', {
      raw: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'ma_shop_001', refresh_token: granted.body.refresh_token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(refreshed.body.error).toBe('invalid_grant');
    // Approvals are gone: a new Matrix session's exchange asks consent again.
    const again = session('gina_again');
    hs.addSession(again.token, gina.userId);
    expect((await delegation(again.token, { scope: 'user:read wallet:balance' })).body.error).toBe('consent_required');
    // The same from DELETE /api/v1/oauth/consent/:client_id; repeating it changes nothing.
    const deleted = await api.call('DELETE', '/api/v1/oauth/consent/ma_shop_001', { token: gina.token });
    expect(deleted.body).toMatchObject({ revoked_sessions: 0, withdrawn_scopes: [] });
  });
});

describe("a mini-app's own tokens: introspection (RFC 7662) and revocation (RFC 7009)", () => {
  const form = (path: string, fields: Record<string, string>) =>
    api.call('POST', path, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  async function confidentialApp() {
    const app = (await api.call('POST', '/api/v1/admin/mini-apps', {
      token: ADMIN_TOKEN,
      body: { name: 'Introspecting shop', client_type: 'hybrid', scopes: ['user:read', 'storage:read'], pre_approved_scopes: ['user:read'] },
    })).body;
    const granted = async () => {
      const who = session('hank');
      return (await exchange({ grant_type: EXCHANGE, subject_token: who.token, subject_token_type: ACCESS_TOKEN, client_id: app.client_id })).body;
    };
    return { app, granted };
  }

  it('tells a confidential client (and the backend twin of a hybrid app) whether its tokens are active', async () => {
    const { app, granted } = await confidentialApp();
    const tokens = await granted();
    // The app's server side is its backend twin; the front end is a public client (PROTO 4.7.2).
    const introspect = (token: string, id = app.backend.client_id, secret = app.backend.client_secret) => form('/api/v1/oauth2/introspect', { client_id: id, client_secret: secret, token });
    const tep = await introspect(tokens.access_token);
    expect(tep.status).toBe(200);
    expect(tep.body).toMatchObject({ active: true, token_type: 'access_token', client_id: app.client_id, sub: tokens.user_id, scope: 'user:read', exp: expect.any(Number) });
    expect((await introspect(tokens.refresh_token)).body).toMatchObject({ active: true, token_type: 'refresh_token', client_id: app.client_id, sub: tokens.user_id });
    const frontEnd = await form('/api/v1/oauth2/introspect', { client_id: app.client_id, token: tokens.access_token });
    expect([frontEnd.status, frontEnd.body.error]).toEqual([401, 'invalid_client']);
    // Another app's token, garbage, a public client, no credentials.
    const others = (await delegation(session('ivy').token)).body;
    expect((await introspect(others.access_token)).body).toEqual({ active: false });
    expect((await introspect('tep.not-a-token')).body).toEqual({ active: false });
    const publicClient = await form('/api/v1/oauth2/introspect', { client_id: 'ma_shop_001', token: others.access_token });
    expect([publicClient.status, publicClient.body.error]).toEqual([401, 'invalid_client']);
    const anonymous = await form('/api/v1/oauth2/introspect', { token: others.access_token });
    expect([anonymous.status, anonymous.body.error]).toEqual([400, 'invalid_request']);
  });

  it('revokes a session by its refresh token or its TEP; another client cannot revoke it, and the answer does not tell', async () => {
    const { app, granted } = await confidentialApp();
    // The front end revokes its own tokens as the public client it is; the backend twin may too.
    const revoke = (token: string) => form('/api/v1/oauth2/revoke', { client_id: app.client_id, token });
    const introspect = (token: string) => form('/api/v1/oauth2/introspect', { client_id: app.backend.client_id, client_secret: app.backend.client_secret, token });

    const byRefresh = await granted();
    const other = (await delegation(session('jack').token)).body;
    expect((await revoke(byRefresh.refresh_token)).status).toBe(200);
    expect((await introspect(byRefresh.access_token)).body.active).toBe(false);
    expect((await introspect(byRefresh.refresh_token)).body.active).toBe(false);

    const byTep = await granted();
    expect((await revoke(byTep.access_token)).status).toBe(200);
    expect((await introspect(byTep.refresh_token)).body.active).toBe(false);

    const byTwin = await granted();
    expect((await form('/api/v1/oauth2/revoke', { client_id: app.backend.client_id, client_secret: app.backend.client_secret, token: byTwin.refresh_token })).status).toBe(200);
    expect((await introspect(byTwin.access_token)).body.active).toBe(false);

    // The shop's token is not this app's to revoke: 200, and it stays good.
    expect((await revoke(other.refresh_token)).status).toBe(200);
    const stillGood = await form('/api/v1/oauth/token', { grant_type: 'refresh_token', client_id: 'ma_shop_001', refresh_token: other.refresh_token });
    expect(stillGood.status).toBe(200);
    // A token minted outside any grant (npm run token) can be revoked too.
    const minted = await api.token(newUserId('kim'), ['user:read'], app.client_id);
    expect((await revoke(minted)).status).toBe(200);
    expect((await introspect(minted)).body.active).toBe(false);
  });
});

test('publishes RFC 8414 metadata whose endpoints are the live ones and whose issuer signs the TEPs', async () => {
  const res = await api.call('GET', '/.well-known/oauth-authorization-server');
  expect(res.status).toBe(200);
  const meta = res.body;
  expect(meta).toMatchObject({
    issuer: api.config.http.publicUrl,
    grant_types_supported: ['authorization_code', EXCHANGE, 'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    scopes_supported: expect.arrayContaining(['wallet:pay', 'storage:read']),
  });
  const local = (url: string) => new URL(url).pathname;
  const post = (url: string) => api.call('POST', local(url), { raw: 'grant_type=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect((await post(meta.token_endpoint)).body.error).toBe('unsupported_grant_type');
  expect((await post(meta.introspection_endpoint)).body.error).toBe('invalid_request');
  expect((await post(meta.revocation_endpoint)).body.error).toBe('invalid_request');
  expect((await api.call('GET', local(meta.jwks_uri))).body.keys.length).toBeGreaterThan(0);
  expect((await post(meta.device_authorization_endpoint)).body.error).toBe('invalid_request');
  // The authorization endpoint is a page: without a client it says so, and redirects nowhere.
  const authorize = await api.call('GET', local(meta.authorization_endpoint));
  expect(authorize.status).toBe(400);
  expect(authorize.headers.get('content-type')).toMatch(/^text\/html/);
  const issued = (await delegation(session('leo').token)).body.access_token as string;
  expect(decodeJwt(issued.slice('tep.'.length)).iss).toBe(meta.issuer);
});
