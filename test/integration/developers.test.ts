import { ADMIN_TOKEN, startTestApi, type ApiResponse, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { expectError } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * Developer self-service (PROTO 4.4, 9.1-9.3) through the API: an operator enrolls a developer, who
 * registers and changes their own apps, rotates their secrets and appeals; nothing of an app works
 * until an operator approves it; no developer sees another's apps; PROTO 11.4.1's registry limits.
 */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  // PROTO's own limits (the tests' default scale would lift them).
  api = await startTestApi(db, { ...stubMatrixEnv(hs, 'developers'), RATE_LIMIT_SCALE: '1' });
});
afterAll(async () => {
  await api?.close();
  await hs?.close();
  await db?.close();
});

const enroll = (userId: string) => api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: userId } });
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
const form = (fields: Record<string, string>) => ({ raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const register = (token: string, name: string, technical: Record<string, unknown> = {}) =>
  api.call('POST', '/mini-apps/v1/register', {
    token,
    body: { name, description: 'Sells tea', category: 'shopping', technical: { client_type: 'hybrid', scopes_requested: ['user:read', 'wallet:pay'], redirect_uris: ['https://tea.example/cb'], ...technical } },
  });
const review = (clientId: string, decision: 'approve' | 'reject', reason?: string) =>
  api.call('POST', `/api/v1/admin/mini-apps/${clientId}/review`, { token: ADMIN_TOKEN, body: { decision, ...(reason ? { reason } : {}) } });
/** What the app's backend can do: read its merchant balance (401 while the app is not approved). */
const backendReads = (creds: { client_id: string; client_secret: string }) => api.call('GET', '/api/v1/merchant/balance', { headers: basic(creds.client_id, creds.client_secret) });
const status = (res: ApiResponse) => res.status;

test('a developer registers an app that works only once an operator approves it, and only its developer sees it', async () => {
  const dev = await enroll('@tea-dev:tmcp.test');
  expect(dev.status).toBe(201);
  expect(dev.body).toMatchObject({ developer_id: '@tea-dev:tmcp.test', status: 'active', access_token: expect.stringMatching(/^dev_/), token_type: 'Bearer', expires_in: 86_400 });
  const token = dev.body.access_token as string;

  const registered = await register(token, 'Tea Shop');
  expect(registered.status).toBe(201);
  expect(registered.body).toMatchObject({
    miniapp_id: expect.stringMatching(/^ma_/),
    status: 'pending_review',
    credentials: { public_client: { client_id: registered.body.miniapp_id }, confidential_client: { client_id: `${registered.body.miniapp_id}_backend`, client_secret: expect.any(String) } },
  });
  const id = registered.body.miniapp_id as string;
  const backend = registered.body.credentials.confidential_client;
  expect(status(await backendReads(backend))).toBe(401);
  // Its users cannot sign in to it either.
  const user = stubSession(hs, 'tea-drinker');
  const exchange = await api.call('POST', '/oauth2/token', form({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: user.token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', client_id: id }));
  expect([exchange.status, exchange.body.error]).toEqual([401, 'invalid_client']);

  expect((await review(id, 'approve', 'looks fine')).body).toMatchObject({ status: 'active', reviews: [{ action: 'submitted', actor: '@tea-dev:tmcp.test' }, { action: 'approved', actor: 'operator', reason: 'looks fine' }] });
  expect(status(await backendReads(backend))).toBe(200);

  // Only its developer sees it; another developer is told it does not exist, and cannot change it.
  const other = (await enroll('@other-dev:tmcp.test')).body.access_token as string;
  expect((await api.call('GET', '/mini-apps/v1', { token })).body.mini_apps.map((a: { miniapp_id: string }) => a.miniapp_id)).toEqual([id]);
  expect((await api.call('GET', '/mini-apps/v1', { token: other })).body.mini_apps).toEqual([]);
  expectError(await api.call('GET', `/mini-apps/v1/${id}`, { token: other }), 404, 'MINIAPP_NOT_FOUND');
  expectError(await api.call('PATCH', `/mini-apps/v1/${id}`, { token: other, body: { name: 'Mine now' } }), 404, 'MINIAPP_NOT_FOUND');
  expectError(await api.call('POST', `/mini-apps/v1/${id}/secret`, { token: other }), 404, 'MINIAPP_NOT_FOUND');
  // Apps an operator registered belong to no developer.
  expectError(await api.call('GET', '/mini-apps/v1/ma_demo', { token }), 404, 'MINIAPP_NOT_FOUND');

  // A new description applies at once; a new name (what users see) or a new scope sends it back to
  // review, and its backend stops until it is approved again.
  expect((await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { description: 'Sells green tea' } })).body).toMatchObject({ description: 'Sells green tea', status: 'active' });
  expect((await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { name: 'Tea House' } })).body).toMatchObject({ name: 'Tea House', status: 'pending_review' });
  expect(status(await backendReads(backend))).toBe(401);
  await review(id, 'approve');
  expectError(await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { name: 'Tween  payments' } }), 400, 'INVALID_REQUEST', 'name');
  expectError(await register(token, 'TMCP Bot'), 400, 'INVALID_REQUEST', 'name');
  const widened = await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { scopes: ['user:read', 'wallet:pay', 'storage:write'] } });
  expect(widened.body).toMatchObject({ status: 'pending_review', scopes: ['user:read', 'wallet:pay', 'storage:write'] });
  expect(status(await backendReads(backend))).toBe(401);
  await review(id, 'approve');

  // A new backend secret: the old one stops working.
  const rotated = await api.call('POST', `/mini-apps/v1/${id}/secret`, { token });
  expect(rotated.body).toMatchObject({ client_id: `${id}_backend`, client_secret: expect.any(String) });
  expect(status(await backendReads(backend))).toBe(401);
  expect(status(await backendReads({ client_id: `${id}_backend`, client_secret: rotated.body.client_secret }))).toBe(200);
  expect((await api.call('GET', `/mini-apps/v1/${id}/webhooks`, { token })).body).toEqual({ client_id: id, events: [] });

  // Deleting it is final.
  expect((await api.call('DELETE', `/mini-apps/v1/${id}`, { token })).body).toMatchObject({ client_id: id, deleted: true });
  expectError(await api.call('GET', `/mini-apps/v1/${id}`, { token }), 404, 'MINIAPP_NOT_FOUND');
});

test('a rejected app may appeal, once, and is reviewed again', async () => {
  const token = (await enroll('@appeal-dev:tmcp.test')).body.access_token as string;
  const id = (await register(token, 'Risky App', { client_type: 'public' })).body.miniapp_id as string;
  expectError(await api.call('POST', `/mini-apps/v1/${id}/appeal`, { token, body: { reason: 'please' } }), 409, 'INVALID_STATE');
  await review(id, 'reject', 'no privacy policy');
  const appealed = await api.call('POST', `/mini-apps/v1/${id}/appeal`, { token, body: { reason: 'We added one', changes_made: ['Privacy policy at /privacy'] } });
  expect(appealed.body).toEqual({ miniapp_id: id, status: 'under_review', app_status: 'appeal' });
  expectError(await api.call('POST', `/mini-apps/v1/${id}/appeal`, { token, body: { reason: 'again' } }), 409, 'INVALID_STATE');
  const seen = await api.call('GET', `/mini-apps/v1/${id}`, { token });
  expect(seen.body.reviews.map((r: { action: string }) => r.action)).toEqual(['submitted', 'rejected', 'appealed']);
  expect(seen.body.reviews[2].reason).toContain('Privacy policy at /privacy');
  expect((await review(id, 'approve')).body.status).toBe('active');
  expectError(await review(id, 'reject'), 409, 'INVALID_STATE');
  // A public client has no secret to rotate.
  expectError(await api.call('POST', `/mini-apps/v1/${id}/secret`, { token }), 400, 'INVALID_REQUEST');
});

test("a developer token on request for an enrolled developer's Matrix session; refresh once; revoke; taken off the whitelist", async () => {
  const stranger = stubSession(hs, 'not-a-dev');
  const exchange = (subject: string) =>
    api.call('POST', '/oauth2/developer/token', form({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }));
  expect([(await exchange(stranger.token)).status, (await exchange(stranger.token)).body.error]).toEqual([403, 'developer_not_whitelisted']);
  expect((await exchange('syt_nobody_knows')).status).toBe(401);

  const dev = stubSession(hs, 'portal-dev');
  await enroll(dev.userId);
  const issued = await exchange(dev.token);
  expect(issued.body).toMatchObject({ access_token: expect.stringMatching(/^dev_/), refresh_token: expect.stringMatching(/^rtdev_/), developer_id: dev.userId, expires_in: 86_400 });
  expect((await api.call('GET', '/mini-apps/v1', { token: issued.body.access_token })).status).toBe(200);

  // A refresh token is spent by its use, and takes its access token with it.
  const refresh = () => api.call('POST', '/oauth2/developer/token', form({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token }));
  const renewed = await refresh();
  expect(renewed.body.access_token).toMatch(/^dev_/);
  expect([(await refresh()).status, (await refresh()).body.error]).toEqual([400, 'invalid_grant']);
  expectError(await api.call('GET', '/mini-apps/v1', { token: issued.body.access_token }), 401, 'INVALID_TOKEN');

  // Logout revokes the token.
  const out = await api.call('POST', '/oauth2/developer/revoke', { token: renewed.body.access_token, ...form({ token: renewed.body.access_token }) });
  expect(out.body).toEqual({ revoked: true, message: expect.any(String) });
  expectError(await api.call('GET', '/mini-apps/v1', { token: renewed.body.access_token }), 401, 'INVALID_TOKEN');

  // Taken off the whitelist: every token stops, and no new one is issued.
  const another = (await exchange(dev.token)).body.access_token as string;
  expect((await api.call('DELETE', `/api/v1/admin/developers/${encodeURIComponent(dev.userId)}`, { token: ADMIN_TOKEN })).body).toMatchObject({ status: 'revoked' });
  expectError(await api.call('GET', '/mini-apps/v1', { token: another }), 401, 'INVALID_TOKEN');
  expect((await exchange(dev.token)).body.error).toBe('developer_not_whitelisted');
  expect((await api.call('GET', '/api/v1/admin/developers', { token: ADMIN_TOKEN })).body.developers).toContainEqual(expect.objectContaining({ developer_id: dev.userId, status: 'revoked' }));
  // Enrolled again, they start afresh: a token from before stays dead.
  const fresh = (await enroll(dev.userId)).body.access_token as string;
  expectError(await api.call('GET', '/mini-apps/v1', { token: another }), 401, 'INVALID_TOKEN');
  expect((await api.call('GET', '/mini-apps/v1', { token: fresh })).status).toBe(200);
});

test('PROTO 11.4.1: 5 registrations a day and 10 changes an hour per developer', async () => {
  const token = (await enroll('@busy-dev:tmcp.test')).body.access_token as string;
  const made: number[] = [];
  for (let i = 0; i < 6; i += 1) made.push((await register(token, `App ${i}`, { client_type: 'public' })).status);
  expect(made).toEqual([201, 201, 201, 201, 201, 429]);
  const id = (await api.call('GET', '/mini-apps/v1', { token })).body.mini_apps[0].miniapp_id as string;
  const changes: number[] = [];
  for (let i = 0; i < 11; i += 1) changes.push((await api.call('PATCH', `/mini-apps/v1/${id}`, { token, body: { name: `Renamed ${i}` } })).status);
  expect(changes).toEqual([...Array(10).fill(200), 429]);
  // Another developer has buckets of their own.
  const fresh = (await enroll('@calm-dev:tmcp.test')).body.access_token as string;
  expect((await register(fresh, 'Calm App', { client_type: 'public' })).status).toBe(201);
});

test('bad input names the field', async () => {
  const token = (await enroll('@careful-dev:tmcp.test')).body.access_token as string;
  expectError(await api.call('POST', '/mini-apps/v1/register', { token, body: { name: 'No scopes', technical: { client_type: 'public' } } }), 400, 'INVALID_REQUEST', 'technical.scopes_requested');
  expectError(await api.call('POST', '/mini-apps/v1/register', { token, body: { name: 'Bad scope', technical: { scopes_requested: ['root:all'] } } }), 400, 'INVALID_REQUEST', 'technical.scopes_requested.0');
  expectError(await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: 'not-a-user' } }), 400, 'INVALID_REQUEST', 'user_id');
  expectError(await api.call('POST', '/oauth2/developer/revoke', { token, body: {} }), 400, 'INVALID_REQUEST', 'token');
});
