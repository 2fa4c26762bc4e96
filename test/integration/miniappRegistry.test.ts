import { createHash } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { miniappById, upsertMiniapps } from '../../src/db/miniapps';
import { newId } from '../../src/ids';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { expectError, newUserId } from '../helpers/p2p';

/** The mini-app registry's admin API (PROTO 4.2) against the real API and PostgreSQL. */
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

const admin = (method: string, path: string, body?: unknown) => api.call(method, `/api/v1/admin/mini-apps${path}`, { token: ADMIN_TOKEN, body });
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const Stored = z.object({ secret_hash: z.string().nullable(), sealed_webhook_secret: z.string().nullable() });
const stored = (clientId: string) => db.pool.one(sql.type(Stored)`SELECT secret_hash, sealed_webhook_secret FROM miniapps WHERE client_id = ${clientId}`);

const shop = {
  name: 'Coffee Shop',
  redirect_uris: ['https://shop.example/callback', 'http://localhost:5173/callback'],
  scopes: ['user:read', 'wallet:pay', 'wallet:balance'],
  pre_approved_scopes: ['user:read'],
};

describe('registering mini-apps', () => {
  it('gives a public client an id and no secret', async () => {
    const res = await admin('POST', '/', { ...shop, client_type: 'public' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ client_type: 'public', status: 'active', has_client_secret: false, source: 'api', ...shop });
    expect(res.body.client_id).toMatch(/^ma_[a-z2-7]{24}$/);
    expect(res.body).not.toHaveProperty('client_secret');
    expect(await stored(res.body.client_id)).toEqual({ secret_hash: null, sealed_webhook_secret: null });
  });

  it('shows a confidential client its secret once and keeps only its hash', async () => {
    const res = await admin('POST', '/', { ...shop, client_type: 'confidential' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { client_id: clientId, client_secret: secret } = res.body;
    expect(secret).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    expect((await stored(clientId)).secret_hash).toBe(sha256(secret));
    const shown = await admin('GET', `/${clientId}`);
    expect(shown.body).toMatchObject({ client_id: clientId, has_client_secret: true });
    expect(JSON.stringify(shown.body)).not.toContain(secret);
    const listed = await admin('GET', '/');
    expect(listed.body.mini_apps.map((a: { client_id: string }) => a.client_id)).toContain(clientId);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(api.rawLogs.join('\n')).not.toContain(secret);
  });

  it('gives a hybrid client its confidential backend twin, and a webhook its signing secret, both once', async () => {
    const res = await admin('POST', '/', { ...shop, client_type: 'hybrid', webhook_url: 'https://shop.example/hooks/tmcp' });
    expect(res.status).toBe(201);
    const { client_id: clientId, client_secret: secret, backend, webhook_secret: webhookSecret } = res.body;
    // PROTO 4.7.2: the front end runs in a browser and is a public client; only the twin has a secret.
    expect(secret).toBeUndefined();
    expect(res.body.has_client_secret).toBe(false);
    expect((await stored(clientId)).secret_hash).toBeNull();
    expect(backend).toEqual({ client_id: `${clientId}_backend`, client_secret: expect.stringMatching(/^cs_/) });
    expect(webhookSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const twin = await admin('GET', `/${clientId}_backend`);
    expect(twin.body).toMatchObject({ client_type: 'confidential', backend_of: clientId, has_client_secret: true, scopes: shop.scopes });
    expect((await stored(`${clientId}_backend`)).secret_hash).toBe(sha256(backend.client_secret));
    // The webhook secret is kept sealed (it signs, so it is read back), never in clear.
    const { sealed_webhook_secret: sealed } = await stored(clientId);
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain(webhookSecret);
    for (const s of [backend.client_secret, webhookSecret]) expect(api.rawLogs.join('\n')).not.toContain(s);
  });

  it("a hybrid app's front end asks for tokens as a public client and cannot make merchant calls; its backend twin can", async () => {
    const app = (await admin('POST', '/', { ...shop, client_type: 'hybrid' })).body;
    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      api.call('POST', '/api/v1/oauth2/device/authorization', { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    expect((await form({ client_id: app.client_id, scope: 'user:read' })).status).toBe(200);
    expect((await form({ client_id: app.client_id, client_secret: 'anything', scope: 'user:read' })).status).toBe(401);
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    const payment = '/api/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaaaa';
    expectError(await api.call('GET', payment, { headers: basic(app.client_id, '') }), 401, 'INVALID_TOKEN');
    expectError(await api.call('GET', payment, { headers: basic(app.backend.client_id, app.backend.client_secret) }), 404, 'NOT_FOUND');
    expectError(await admin('POST', `/${app.client_id}/secret`), 400, 'INVALID_REQUEST');
  });

  it('names the field and the reason of bad input, and wants the admin token', async () => {
    expectError(await admin('POST', '/', { ...shop, client_type: 'public', scopes: ['user:read', 'wallet:steal'] }), 400, 'INVALID_REQUEST', 'scopes.1');
    expectError(await admin('POST', '/', { ...shop, client_type: 'public', pre_approved_scopes: ['wallet:pay', 'storage:read'] }), 400, 'INVALID_REQUEST', 'pre_approved_scopes');
    expectError(await admin('POST', '/', { ...shop, client_type: 'public', redirect_uris: ['http://shop.example/cb'] }), 400, 'INVALID_REQUEST', 'redirect_uris.0');
    expectError(await admin('POST', '/', { ...shop, client_type: 'public', redirect_uris: ['https://shop.example/cb#frag'] }), 400, 'INVALID_REQUEST', 'redirect_uris.0');
    expectError(await admin('POST', '/', { ...shop, client_type: 'trusted' }), 400, 'INVALID_REQUEST', 'client_type');
    expectError(await admin('POST', '/', { ...shop, client_type: 'public', secret: 'mine' }), 400, 'INVALID_REQUEST', 'secret');
    expectError(await api.call('POST', '/api/v1/admin/mini-apps', { body: { ...shop, client_type: 'public' } }), 401, 'INVALID_TOKEN');
    expectError(await api.call('GET', '/api/v1/admin/mini-apps', { token: 'not-the-admin-token' }), 401, 'INVALID_TOKEN');
    expectError(await admin('GET', '/ma_doesnotexist'), 404, 'MINIAPP_NOT_FOUND');
  });
});

describe('changing mini-apps', () => {
  it('changes scopes (pre-approvals shrink with them), redirect URIs and the webhook', async () => {
    const { client_id: clientId } = (await admin('POST', '/', { ...shop, client_type: 'public' })).body;
    const narrowed = await admin('PATCH', `/${clientId}`, { scopes: ['wallet:pay'], redirect_uris: ['https://shop.example/v2'] });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body).toMatchObject({ scopes: ['wallet:pay'], pre_approved_scopes: [], redirect_uris: ['https://shop.example/v2'] });
    expectError(await admin('PATCH', `/${clientId}`, { pre_approved_scopes: ['user:read'] }), 400, 'INVALID_REQUEST', 'pre_approved_scopes');
    const hooked = await admin('PATCH', `/${clientId}`, { webhook_url: 'https://shop.example/hooks' });
    expect(hooked.body).toMatchObject({ webhook_url: 'https://shop.example/hooks', webhook_secret: expect.stringMatching(/^whsec_/) });
    const unhooked = await admin('PATCH', `/${clientId}`, { webhook_url: null });
    expect(unhooked.body.webhook_url).toBeNull();
    expect(await stored(clientId)).toEqual({ secret_hash: null, sealed_webhook_secret: null });
    expectError(await admin('PATCH', `/${clientId}`, {}), 400, 'INVALID_REQUEST');
    expectError(await admin('PATCH', '/ma_doesnotexist', { name: 'x' }), 404, 'MINIAPP_NOT_FOUND');
  });

  it('rotates a client secret: the new one is answered once, the old hash is gone; a public client has none', async () => {
    const created = (await admin('POST', '/', { ...shop, client_type: 'confidential' })).body;
    const rotated = await admin('POST', `/${created.client_id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.client_secret).not.toBe(created.client_secret);
    expect((await stored(created.client_id)).secret_hash).toBe(sha256(rotated.body.client_secret));
    const pub = (await admin('POST', '/', { ...shop, client_type: 'public' })).body;
    expectError(await admin('POST', `/${pub.client_id}/secret`), 400, 'INVALID_REQUEST');
  });

  it('suspending an app stops its tokens and its backend twin; reactivating brings them back', async () => {
    const app = (await admin('POST', '/', { ...shop, client_type: 'hybrid' })).body;
    const token = await api.token(newUserId('shopper'), ['wallet:balance', 'wallet:pay'], app.client_id);
    const register = await api.call('POST', '/api/v1/wallet/register', { token, body: {} });
    expect(register.status).toBe(201);
    const balance = () => api.call('GET', '/api/v1/wallet/balance', { token });
    expect((await balance()).status).toBe(200);

    expect((await admin('PATCH', `/${app.client_id}`, { status: 'suspended' })).body.status).toBe('suspended');
    expect((await admin('GET', `/${app.backend.client_id}`)).body.status).toBe('suspended');
    const refused = await eventually(balance, (r) => r.status !== 200, 5000);
    expectError(refused, 401, 'INVALID_TOKEN');
    expect(refused.body.error.details).toMatchObject({ client_id: app.client_id });

    await admin('PATCH', `/${app.client_id}`, { status: 'active' });
    expect((await eventually(balance, (r) => r.status === 200, 5000)).status).toBe(200);
    expect((await admin('GET', `/${app.backend.client_id}`)).body.status).toBe('active');
  });

  it("deleting an app stops its tokens for good, revokes its sessions and deletes its users' approvals and stored values; money stays", async () => {
    const app = (await admin('POST', '/', { ...shop, scopes: [...shop.scopes, 'storage:read', 'storage:write'], client_type: 'hybrid' })).body;
    const user = newUserId('leaver');
    const token = await api.token(user, ['wallet:balance', 'storage:read', 'storage:write'], app.client_id);
    expect((await api.call('PUT', '/api/v1/storage/cart', { token, body: { value: 'tea' } })).status).toBeLessThan(300);
    await db.pool.query(sql.unsafe`INSERT INTO consents (user_id, client_id, scope) VALUES (${user}, ${app.client_id}, 'user:read')`);
    await db.pool.query(sql.unsafe`INSERT INTO oauth_sessions (id, user_id, client_id, scopes) VALUES (${newId('session')}, ${user}, ${app.client_id}, '{user:read}')`);

    const deleted = await admin('DELETE', `/${app.client_id}`);
    expect(deleted.body).toEqual({ client_id: app.client_id, deleted: true, revoked_sessions: 1, deleted_values: 1, withdrawn_consents: 1 });
    expect((await admin('GET', `/${app.client_id}`)).body.status).toBe('deleted');
    expect((await admin('GET', `/${app.backend.client_id}`)).body.status).toBe('deleted');
    expectError(await eventually(() => api.call('GET', '/api/v1/storage/cart', { token }), (r) => r.status !== 200, 5000), 401, 'INVALID_TOKEN');
    const left = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM storage_entries WHERE client_id = ${app.client_id}`);
    expect(left).toBe(0);
    // Deletion is final: no change brings it back; deleting again has nothing left to do.
    expectError(await admin('PATCH', `/${app.client_id}`, { status: 'active' }), 409, 'INVALID_STATE');
    expectError(await admin('PATCH', `/${app.client_id}`, { status: 'deleted' }), 400, 'INVALID_REQUEST', 'status');
    expectError(await admin('POST', `/${app.client_id}/secret`), 409, 'INVALID_STATE');
    expect((await admin('DELETE', `/${app.client_id}`)).body).toMatchObject({ deleted: true, revoked_sessions: 0, deleted_values: 0 });
    expectError(await admin('DELETE', '/ma_no_such_app'), 404, 'MINIAPP_NOT_FOUND');
    // Its merchant account is still in the ledger.
    const accounts = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM accounts WHERE kind = 'merchant' AND owner = ${app.client_id}`);
    expect(accounts).toBeGreaterThan(0);
  });

  it('refuses a token of a client the registry does not know', async () => {
    const token = await api.token(newUserId('ghost'), ['wallet:balance'], 'ma_not_registered');
    expectError(await api.call('GET', '/api/v1/wallet/balance', { token }), 401, 'INVALID_TOKEN');
  });

  it('never lets the registry file overwrite an app made through the API', async () => {
    const app = (await admin('POST', '/', { ...shop, client_type: 'public' })).body;
    await upsertMiniapps(db.pool, [{ client_id: app.client_id, name: 'Taken over', scopes: ['user:read'], pre_approved_scopes: [], first_party: true }], 'USD');
    expect(await miniappById(db.pool, app.client_id)).toMatchObject({ name: shop.name, scopes: shop.scopes, first_party: false });
  });
});
