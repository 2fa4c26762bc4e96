import * as oidc from 'openid-client';
import { sql } from 'slonik';
import { ADMIN_TOKEN, freePort, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { FormBrowser } from '../helpers/formBrowser';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/**
 * The three ways to a TEP, driven by a certified OAuth client library (openid-client) configured
 * only from our RFC 8414 discovery document: authorization code with PKCE (the pages through a
 * cookie-keeping form client), the device grant, refresh rotation. The pages in a real Chromium
 * are in the Synapse suite.
 */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
let worker: TestWorker;
let issuer: string;
const REDIRECT = 'http://127.0.0.1:9/callback';
/** Every credential the tests saw: none may appear in a log line (checked last). */
const secrets: string[] = [];
const keep = <T extends { access_token?: string; refresh_token?: string }>(tokens: T): T => {
  if (tokens.access_token) secrets.push(tokens.access_token);
  if (tokens.refresh_token) secrets.push(tokens.refresh_token);
  return tokens;
};
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const taskQueue = uniqueTaskQueue('oauth');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { ...stubMatrixEnv(hs, 'oauth'), PUBLIC_URL: issuer, TEMPORAL_TASK_QUEUE: taskQueue }, { port });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await hs?.close();
  await db?.close();
});

async function registerApp(clientType: 'public' | 'confidential', scopes = ['user:read', 'wallet:balance', 'storage:read']) {
  const res = await api.call('POST', '/api/v1/admin/mini-apps', {
    token: ADMIN_TOKEN,
    body: { name: `Test ${clientType}`, client_type: clientType, redirect_uris: [REDIRECT], scopes, pre_approved_scopes: ['user:read'] },
  });
  expect(res.status).toBe(201);
  return res.body as { client_id: string; client_secret?: string };
}

/** Our server as openid-client sees it: discovered from /.well-known/oauth-authorization-server, nothing configured by hand. */
function discover(app: { client_id: string; client_secret?: string }) {
  return oidc.discovery(new URL(issuer), app.client_id, undefined, app.client_secret ? oidc.ClientSecretBasic(app.client_secret) : oidc.None(), {
    algorithm: 'oauth2',
    execute: [oidc.allowInsecureRequests],
  });
}

/** The status GET balance answers with the token, once it is 401 or `ms` have passed. */
const balanceStatusWithin = (token: string, ms: number) =>
  eventually(async () => (await api.call('GET', '/api/v1/wallet/balance', { token })).status, (status) => status === 401, ms, 20);

/** What a user does in the browser: sign in at the homeserver through our page, approve, and be sent back. */
async function userApproves(authorizationUrl: URL, user: { name: string; password: string }): Promise<URL> {
  const browser = new FormBrowser(api.url);
  const signIn = await browser.get(authorizationUrl.pathname + authorizationUrl.search);
  expect(signIn.status).toBe(200);
  expect(signIn.text).toContain('Sign in with your Matrix account');
  const signedIn = await browser.post('/api/v1/oauth/signin', { ...signIn.inputs(), username: user.name, password: user.password });
  expect(signedIn.status).toBe(303);
  const consent = await browser.get(signedIn.location!);
  // Approved before: straight back to the app.
  if (consent.status === 303) return new URL(consent.location!);
  expect(consent.status).toBe(200);
  expect(consent.text).toContain('See your wallet balance');
  const back = await browser.post('/api/v1/oauth/authorize', { ...consent.inputs(), decision: 'approve' });
  expect(back.status).toBe(303);
  return new URL(back.location!);
}

describe('with openid-client', () => {
  it('authorization code with PKCE: sign in, consent, code, tokens; a reused code revokes them', async () => {
    const app = await registerApp('public');
    const config = await discover(app);
    expect(config.serverMetadata()).toMatchObject({ code_challenge_methods_supported: ['S256'], authorization_endpoint: `${issuer}/api/v1/oauth/authorize` });
    const alice = hs.addAccount(`alice${Date.now()}`, 'correct horse');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'user:read wallet:balance',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await userApproves(url, { name: alice.slice(1, alice.indexOf(':')), password: 'correct horse' });
    expect(callback.searchParams.get('state')).toBe(state);

    const tokens = keep(await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }));
    secrets.push(callback.searchParams.get('code')!, verifier, 'correct horse');
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'user:read wallet:balance', user_id: alice, wallet_id: expect.stringMatching(/^tw_/) });
    expect(tokens.access_token).toMatch(/^tep\./);
    expect((await api.call('GET', '/api/v1/wallet/balance', { token: tokens.access_token })).status).toBe(200);
    // The Matrix session made to check the password was logged out at once.
    expect(hs.calls.filter((c) => c.kind === 'logout')).not.toHaveLength(0);
    expect(hs.liveSessions().filter((t) => t.startsWith('syt_login_'))).toEqual([]);

    // The code again: refused, and the tokens it gave stop working.
    await expect(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({ error: 'invalid_grant' });
    // At once: the revocation is announced to the API's cache (LISTEN/NOTIFY), well within the cache's 2 s.
    expect(await balanceStatusWithin(tokens.access_token, 500)).toBe(401);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refresh rotates the refresh token; a used one revokes the whole family', async () => {
    const app = await registerApp('confidential');
    const config = await discover(app);
    const bob = hs.addAccount(`bob${Date.now()}`, 'hunter22');
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'user:read wallet:balance', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await userApproves(url, { name: bob, password: 'hunter22' });
    const first = keep(await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }));
    secrets.push(app.client_secret!, 'hunter22');

    const second = keep(await oidc.refreshTokenGrant(config, first.refresh_token!));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const third = await oidc.refreshTokenGrant(config, second.refresh_token!);
    expect((await api.call('GET', '/api/v1/wallet/balance', { token: third.access_token })).status).toBe(200);

    // The first refresh token, used already, comes back: the family is revoked, the newest token too.
    await expect(oidc.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, third.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await balanceStatusWithin(third.access_token, 500)).toBe(401);
  });

  it('device grant: the client polls while the user approves from the messenger', async () => {
    const app = await registerApp('public');
    const config = await discover(app);
    const carol = hs.addAccount(`carol${Date.now()}`, 'pw-carol');
    const matrixToken = `syt_carol_${Date.now()}`;
    hs.addSession(matrixToken, carol);

    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'user:read storage:read' });
    secrets.push(device.device_code, matrixToken);
    expect(device.verification_uri).toBe(`${issuer}/api/v1/oauth2/device`);
    const polling = oidc.pollDeviceAuthorizationGrant(config, device);
    const approved = await api.call('POST', '/api/v1/oauth2/device/approve', { token: matrixToken, body: { user_code: device.user_code, decision: 'approve' } });
    expect(approved.status).toBe(200);
    const tokens = await polling;
    expect(tokens).toMatchObject({ scope: 'user:read storage:read', user_id: carol });
    expect(tokens.access_token).toMatch(/^tep\./);
  }, 30_000);

  it('device grant: the user enters the code on our page and signs in with the homeserver\'s single sign-on', async () => {
    const app = await registerApp('public');
    const config = await discover(app);
    const grace = hs.addAccount(`grace${Date.now()}`, 'pw-grace');
    hs.setLoginFlows(['m.login.sso']);
    hs.setSsoUser(grace);
    try {
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'user:read wallet:balance' });
      const polling = oidc.pollDeviceAuthorizationGrant(config, device);
      const browser = new FormBrowser(api.url);
      const start = await browser.get('/api/v1/oauth2/device');
      expect(start.text).toContain('Enter the code');
      // The user types the code as they read it: lower case, without the dash.
      const signIn = await browser.get(`/api/v1/oauth2/device?user_code=${device.user_code.toLowerCase().replace('-', '')}`);
      expect(signIn.status).toBe(200);
      expect(signIn.text).not.toContain('type="password"'); // the homeserver offers SSO only
      const ssoHref = /href="([^"]+)"/.exec(signIn.text)![1]!.replace(/&amp;/g, '&');
      const toHomeserver = await browser.get(ssoHref);
      expect(toHomeserver.status).toBe(302);
      expect(toHomeserver.location).toMatch(new RegExp(`^${hs.url}/_matrix/client/v3/login/sso/redirect\\?redirectUrl=`));
      const fromHomeserver = await fetch(toHomeserver.location!, { redirect: 'manual' });
      const callback = new URL(fromHomeserver.headers.get('location')!);
      secrets.push(callback.searchParams.get('loginToken')!, device.device_code);
      // A login token without this browser's state cookie (planted by someone else) is refused.
      expect((await new FormBrowser(api.url).get(callback.pathname + callback.search)).status).toBe(400);
      const back = await browser.get(callback.pathname + callback.search);
      expect(back.status).toBe(303);
      const decision = await browser.get(back.location!);
      expect(decision.text).toContain(`Signed in as <strong>${grace}</strong>`);
      expect(decision.text).toContain('See your wallet balance');
      const done = await browser.post('/api/v1/oauth2/device', { ...decision.inputs(), decision: 'approve' });
      expect(done.status).toBe(200);
      expect(done.text).toContain('Device connected');
      const tokens = await polling;
      expect(tokens).toMatchObject({ user_id: grace, scope: 'user:read wallet:balance' });
    } finally {
      hs.setLoginFlows(['m.login.password']);
      hs.setSsoUser(undefined);
    }
  }, 30_000);

  it('device grant: a denial ends the polling with access_denied', async () => {
    const app = await registerApp('public');
    const config = await discover(app);
    const dave = hs.addAccount(`dave${Date.now()}`, 'pw-dave');
    const matrixToken = `syt_dave_${Date.now()}`;
    hs.addSession(matrixToken, dave);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'user:read' });
    const polling = oidc.pollDeviceAuthorizationGrant(config, device);
    expect((await api.call('POST', '/api/v1/oauth2/device/approve', { token: matrixToken, body: { user_code: device.user_code, decision: 'deny' } })).status).toBe(200);
    await expect(polling).rejects.toMatchObject({ error: 'access_denied' });
  }, 30_000);
});

test('suspending a mini-app stops every grant and token of it at once', async () => {
  const app = await registerApp('public');
  const config = await discover(app);
  const henry = hs.addAccount(`henry${Date.now()}`, 'pw-henry');
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'user:read wallet:balance', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const tokens = keep(await oidc.authorizationCodeGrant(config, await userApproves(url, { name: henry, password: 'pw-henry' }), { pkceCodeVerifier: verifier }));
  const device = await oidc.initiateDeviceAuthorization(config, { scope: 'user:read' });
  expect((await api.call('GET', '/api/v1/wallet/balance', { token: tokens.access_token })).status).toBe(200);

  const suspended = await api.call('PATCH', `/api/v1/admin/mini-apps/${app.client_id}`, { token: ADMIN_TOKEN, body: { status: 'suspended' } });
  expect(suspended.status).toBe(200);
  expect(await balanceStatusWithin(tokens.access_token, 500)).toBe(401);
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_client' });
  const poll = await api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: app.client_id, device_code: device.device_code }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(poll.body.error).toBe('invalid_client');
  await expect(oidc.initiateDeviceAuthorization(config, { scope: 'user:read' })).rejects.toMatchObject({ error: 'invalid_client' });
  const page = await new FormBrowser(api.url).get(url.pathname + url.search);
  expect(page.status).toBe(400);
  expect(page.location).toBeNull();
});

describe('the authorization endpoint refuses', () => {
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
  let clientId: string;
  beforeAll(async () => {
    clientId = (await registerApp('public')).client_id;
  });
  const authorizeUrl = (params: Record<string, string>) =>
    `/api/v1/oauth/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 'xyz', ...params })}`;

  it('an unregistered redirect_uri or client with a page, never a redirect', async () => {
    const browser = new FormBrowser(api.url);
    const untrusted: Record<string, string>[] = [{ redirect_uri: 'http://evil.example/cb' }, { client_id: 'ma_nobody' }, { redirect_uri: '' }];
    for (const params of untrusted) {
      const res = await browser.get(authorizeUrl(params));
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  it.each([
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge: '' }, 'invalid_request'],
    [{ code_challenge: 'short' }, 'invalid_request'],
    [{ scope: 'user:read room:create' }, 'invalid_scope'],
  ])('%j with the RFC 6749 4.1.2.1 error, redirected with the state', async (params, error) => {
    const res = await new FormBrowser(api.url).get(authorizeUrl(params));
    expect(res.status).toBe(303);
    const back = new URL(res.location!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('state')).toBe('xyz');
  });

  it('a denial with access_denied; a form without its CSRF token; a wrong password', async () => {
    const erin = hs.addAccount(`erin${Date.now()}`, 'pw-erin');
    const browser = new FormBrowser(api.url);
    const signIn = await browser.get(authorizeUrl({ scope: 'user:read wallet:balance' }));
    expect(signIn.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(signIn.headers.get('x-frame-options')).toBe('DENY');
    expect(signIn.headers.get('cache-control')).toBe('no-store');

    const wrong = await browser.post('/api/v1/oauth/signin', { ...signIn.inputs(), username: erin, password: 'not it' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Wrong user name or password');
    const forged = await browser.post('/api/v1/oauth/signin', { ...signIn.inputs(), csrf: 'forged', username: erin, password: 'pw-erin' });
    expect(forged.status).toBe(403);
    // Nobody logs the password.
    expect(api.rawLogs.some((line) => line.includes('pw-erin'))).toBe(false);

    const signedIn = await browser.post('/api/v1/oauth/signin', { ...signIn.inputs(), username: erin, password: 'pw-erin' });
    expect(signedIn.status).toBe(303);
    expect(browser.cookies.get('tmcp_signin')).toBeDefined();
    const consent = await browser.get(signedIn.location!);
    expect((await browser.post('/api/v1/oauth/authorize', { ...consent.inputs(), csrf: 'forged', decision: 'approve' })).status).toBe(403);
    const denied = await browser.post('/api/v1/oauth/authorize', { ...consent.inputs(), decision: 'deny' });
    expect(denied.status).toBe(303);
    expect(new URL(denied.location!).searchParams.get('error')).toBe('access_denied');
    expect(new URL(denied.location!).searchParams.get('state')).toBe('xyz');
  });

  it('code redemption errors: wrong verifier, redirect_uri, client, expiry, missing verifier', async () => {
    const frank = hs.addAccount(`frank${Date.now()}`, 'pw-frank');
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const url = new URL(`${api.url}${authorizeUrl({ scope: 'user:read wallet:balance' })}`);
    const codeOf = async () => new URL(`${await userApproves(url, { name: frank, password: 'pw-frank' })}`).searchParams.get('code')!;
    const token = (fields: Record<string, string>) =>
      api.call('POST', '/api/v1/oauth/token', { raw: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT, ...fields }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

    expect((await token({ code: await codeOf() })).body).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('code_verifier') });
    expect((await token({ code: await codeOf(), code_verifier: 'x'.repeat(43) })).body.error).toBe('invalid_grant');
    expect((await token({ code: await codeOf(), code_verifier: verifier, redirect_uri: 'http://127.0.0.1:9/other' })).body.error).toBe('invalid_grant');
    const other = await registerApp('public');
    expect((await token({ code: await codeOf(), code_verifier: verifier, client_id: other.client_id })).body.error).toBe('invalid_grant');
    const stale = await codeOf();
    await db.pool.query(sql.unsafe`UPDATE authorization_codes SET expires_at = now() - interval '1 second'`);
    expect((await token({ code: stale, code_verifier: verifier })).body).toMatchObject({ error: 'invalid_grant', error_description: 'code has expired' });
    const good = await token({ code: await codeOf(), code_verifier: verifier });
    expect(good.status).toBe(200);
    expect(good.headers.get('cache-control')).toBe('no-store');
  });
});

test('no password, code, token or secret of these flows appears in a log line', () => {
  expect(secrets.length).toBeGreaterThan(10);
  const leaked = secrets.filter((secret) => api.rawLogs.some((line) => line.includes(secret)));
  expect(leaked).toEqual([]);
});
