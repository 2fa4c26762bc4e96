import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { sql } from 'slonik';
import { z } from 'zod';
import { parseStorageKeys, storageCipher } from '../../src/crypto/storageKeys';
import { purgeExpired } from '../../src/db/storage';
import { rotateStorageKeys } from '../../src/storage/rotation';
import { startTestApi, TEST_DATA_KEY, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { expectError, newUserId } from '../helpers/p2p';

/**
 * Mini-app storage (PROTO 10.3) with small limits: 1,000 bytes and 5 keys per namespace, values up
 * to 400 bytes, keys up to 32 bytes.
 */
let db: TestDatabase;
let api: TestApi;
const OLD_KEY = `old:${'11'.repeat(32)}`;
const NEW_KEY = `new:${'22'.repeat(32)}`;
beforeAll(async () => {
  db = await freshDatabase();
  api = await startTestApi(db, { STORAGE_QUOTA_BYTES: '1000', STORAGE_MAX_KEYS: '5', STORAGE_MAX_VALUE_BYTES: '400', STORAGE_MAX_KEY_BYTES: '32', STORAGE_ENCRYPTION_KEYS: OLD_KEY });
});
afterAll(async () => {
  await api?.close();
  await db?.close();
});

const SCOPES = ['storage:read', 'storage:write'];
async function tokenFor(name: string, clientId = 'ma_demo') {
  return api.token(newUserId(name), SCOPES, clientId);
}
const path = (key: string) => `/api/v1/storage/${encodeURIComponent(key)}`;
const put = (token: string, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => api.call('PUT', path(key), { token, body, headers });

describe('storage', () => {
  it('creates, reads, replaces, lists and deletes, with keys holding / : and spaces', async () => {
    const token = await tokenFor('ann');
    const key = 'cart/items: today';
    const created = await api.call('POST', '/api/v1/storage', { token, body: { key, value: '{"items":[1,2]}', metadata: { content_type: 'application/json' } } });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toEqual({ key, value: '{"items":[1,2]}', created_at: expect.any(String), updated_at: expect.any(String), version: 1, metadata: { size_bytes: 15, content_type: 'application/json' } });
    expectError(await api.call('POST', '/api/v1/storage', { token, body: { key, value: 'again' } }), 409, 'KEY_EXISTS', 'key');
    expect((await api.call('GET', path(key), { token })).body.value).toBe('{"items":[1,2]}');
    const replaced = await put(token, key, { value: 'héllo' });
    expect(replaced.body).toMatchObject({ value: 'héllo', version: 2, metadata: { size_bytes: 6 } });
    await put(token, 'cart/other', { value: 'x' });
    await put(token, 'prefs', { value: 'y' });
    const listed = await api.call('GET', '/api/v1/storage?prefix=cart/', { token });
    expect(listed.body.keys.map((k: { key: string }) => k.key)).toEqual(['cart/items: today', 'cart/other']);
    const first = await api.call('GET', '/api/v1/storage?limit=2', { token });
    expect(first.body.keys).toHaveLength(2);
    const second = await api.call('GET', `/api/v1/storage?limit=2&cursor=${first.body.next_cursor}`, { token });
    expect(second.body).toEqual({ keys: [expect.objectContaining({ key: 'prefs' })] });
    expectError(await api.call('GET', '/api/v1/storage?cursor=@@', { token }), 400, 'INVALID_REQUEST', 'cursor');
    expect((await api.call('DELETE', path(key), { token })).body).toEqual({ key, deleted: true });
    expectError(await api.call('GET', path(key), { token }), 404, 'NOT_FOUND');
    expectError(await api.call('DELETE', path(key), { token }), 404, 'NOT_FOUND');
    expect((await api.call('GET', '/api/v1/storage/info', { token })).body).toEqual({ usage_bytes: 2, quota_bytes: 1000, keys: 2, max_keys: 5, max_key_bytes: 32, max_value_bytes: 400 });
    // Neither keys nor values reach a log line.
    expect(api.rawLogs.some((l) => l.includes('cart/items') || l.includes('cart%2Fitems') || l.includes('héllo'))).toBe(false);
  });

  it('isolates users and mini-apps, also through prefix and batch', async () => {
    const alice = await tokenFor('alice');
    const bobSameApp = await tokenFor('bob');
    const aliceOtherApp = await api.token(decodeJwt(alice.slice(4)).sub!, SCOPES, 'ma_shop_001');
    await put(alice, 'secret', { value: 'alice-only' });
    for (const other of [bobSameApp, aliceOtherApp]) {
      expectError(await api.call('GET', path('secret'), { token: other }), 404, 'NOT_FOUND');
      expect((await api.call('GET', '/api/v1/storage?prefix=sec', { token: other })).body.keys).toEqual([]);
      expect((await api.call('POST', '/api/v1/storage/batch/get', { token: other, body: { keys: ['secret'] } })).body).toEqual({ items: [], missing: ['secret'] });
    }
    const readOnly = await api.token(newUserId('ro'), ['storage:read']);
    expect((await put(readOnly, 'k', { value: 'v' })).status).toBe(403);
  });

  it('refuses what is over a limit, naming usage and quota, writing nothing', async () => {
    const token = await tokenFor('cap');
    const big = 'x'.repeat(300);
    for (const k of ['a', 'b', 'c']) expect((await put(token, k, { value: big })).status).toBe(200);
    const over = await put(token, 'd', { value: big });
    expectError(over, 413, 'STORAGE_QUOTA_EXCEEDED');
    expect(over.body.error.details).toMatchObject({ current_usage_bytes: 900, quota_bytes: 1000 });
    expectError(await put(token, 'huge', { value: 'x'.repeat(401) }), 413, 'STORAGE_QUOTA_EXCEEDED', 'value');
    expectError(await put(token, 'k'.repeat(33), { value: 'v' }), 400, 'INVALID_REQUEST', 'key');
    expectError(await put(token, 'ttl', { value: 'v', ttl: 59 }), 400, 'INVALID_REQUEST', 'ttl');
    expectError(await put(token, 'ttl', { value: 'v', ttl: 2_592_001 }), 400, 'INVALID_REQUEST', 'ttl');
    expectError(await put(token, 'obj', { value: { not: 'a string' } }), 400, 'INVALID_REQUEST', 'value');
    // Replacing a value counts only the difference.
    expect((await put(token, 'a', { value: 'x'.repeat(390) })).status).toBe(200);
    const keys = await tokenFor('keys');
    for (const k of ['1', '2', '3', '4', '5']) await put(keys, k, { value: 'v' });
    expectError(await put(keys, '6', { value: 'v' }), 413, 'STORAGE_QUOTA_EXCEEDED');
    // All or nothing: a batch that would pass the key limit writes none of its items.
    const batchUser = await tokenFor('batch');
    const items = ['a', 'b', 'c', 'd', 'e', 'f'].map((key) => ({ key, value: 'v' }));
    expectError(await api.call('POST', '/api/v1/storage/batch/set', { token: batchUser, body: { items } }), 413, 'STORAGE_QUOTA_EXCEEDED');
    expect((await api.call('GET', '/api/v1/storage/info', { token: batchUser })).body.keys).toBe(0);
    // One batch may not name a key twice: each item would be measured against the stored row and
    // 3 x 400 bytes of one key would pass a 1000-byte quota.
    const repeater = await tokenFor('repeater');
    const repeated = Array.from({ length: 3 }, () => ({ key: 'same', value: 'r'.repeat(400) }));
    expectError(await api.call('POST', '/api/v1/storage/batch', { token: repeater, body: { set: repeated } }), 400, 'INVALID_REQUEST', 'set');
    expectError(await api.call('POST', '/api/v1/storage/batch', { token: repeater, body: { set: [{ key: 'same', value: 'v' }], delete: ['same'] } }), 400, 'INVALID_REQUEST', 'set');
    expect((await api.call('GET', '/api/v1/storage/info', { token: repeater })).body).toMatchObject({ keys: 0, usage_bytes: 0 });
  });

  it('holds the quota under 20 concurrent writes of one user', async () => {
    const token = await tokenFor('race');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => put(token, `k${i}`, { value: 'y'.repeat(150) })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5); // the key limit (5) binds before the bytes (6 x 150 = 900 would fit)
    expect(answers.filter((a) => a.status === 413)).toHaveLength(15);
    const info = (await api.call('GET', '/api/v1/storage/info', { token })).body;
    expect(info).toMatchObject({ keys: 5, usage_bytes: 750 });
    const bytesUser = await tokenFor('racebytes');
    const byBytes = await Promise.all(Array.from({ length: 20 }, (_, i) => put(bytesUser, `b${i % 5}`, { value: String(i).padEnd(390, 'z') })));
    expect(byBytes.every((a) => a.status === 200 || a.status === 413)).toBe(true);
    expect((await api.call('GET', '/api/v1/storage/info', { token: bytesUser })).body.usage_bytes).toBeLessThanOrEqual(1000);
  });

  it('keeps a value past its TTL from everyone, out of the quota, and purges it', async () => {
    const token = await tokenFor('ttl');
    expect((await put(token, 'short', { value: 'soon gone', ttl: 60 })).body.expires_at).toEqual(expect.any(String));
    await put(token, 'long', { value: 'stays' });
    await db.pool.query(sql.unsafe`UPDATE storage_entries SET expires_at = now() - interval '1 second' WHERE key = 'short'`);
    expectError(await api.call('GET', path('short'), { token }), 404, 'NOT_FOUND');
    expect((await api.call('GET', '/api/v1/storage', { token })).body.keys.map((k: { key: string }) => k.key)).toEqual(['long']);
    expect((await api.call('GET', '/api/v1/storage/info', { token })).body).toMatchObject({ keys: 1, usage_bytes: 5 });
    // Written again, it is a new value, but its version keeps counting: an ETag from before does not match it.
    const back = await put(token, 'short', { value: 'back' });
    expect(back.body.version).toBe(2);
    expectError(await put(token, 'short', { value: 'stale' }, { 'if-match': '"1"' }), 412, 'PRECONDITION_FAILED');
    await db.pool.query(sql.unsafe`UPDATE storage_entries SET expires_at = now() - interval '1 second' WHERE key = 'short'`);
    expect(await purgeExpired(db.pool, 100)).toBeGreaterThanOrEqual(1);
    expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM storage_entries WHERE key = 'short'`)).toBe(0);
  });

  it('applies If-Match, and lets an older offline write lose to the server value', async () => {
    const token = await tokenFor('devices');
    const v1 = await put(token, 'note', { value: 'first' });
    const etag = v1.headers.get('etag')!;
    expect((await put(token, 'note', { value: 'second' }, { 'if-match': etag })).body.version).toBe(2);
    expectError(await put(token, 'note', { value: 'stale device' }, { 'if-match': etag }), 412, 'PRECONDITION_FAILED');
    expectError(await api.call('DELETE', path('note'), { token, headers: { 'if-match': '"1"' } }), 412, 'PRECONDITION_FAILED');
    expectError(await put(token, 'missing', { value: 'x' }, { 'if-match': '"1"' }), 412, 'PRECONDITION_FAILED');
    const now = Math.floor(Date.now() / 1000);
    expect((await put(token, 'note', { value: 'synced', client_timestamp: now })).body.value).toBe('synced');
    const late = await put(token, 'note', { value: 'written offline earlier', client_timestamp: now - 3600 });
    expect(late.body).toEqual({ key: 'note', success: true, conflict_detected: true, resolution: 'server_wins', server_value: 'synced', updated_at: expect.any(String), version: 3 });
    expect((await api.call('GET', path('note'), { token })).body.value).toBe('synced');
    expect((await put(token, 'note', { value: 'newer' }, { 'if-match': '"3"' })).status).toBe(200);
  });

  it('batches: get reports what is missing; the combined route writes and deletes all or nothing', async () => {
    const token = await tokenFor('batcher');
    const set = await api.call('POST', '/api/v1/storage/batch/set', { token, body: { items: [{ key: 'x', value: '1' }, { key: 'y', value: '2', ttl: 86400 }] } });
    expect(set.body.items.map((i: { key: string }) => i.key)).toEqual(['x', 'y']);
    expect((await api.call('POST', '/api/v1/storage/batch/get', { token, body: { keys: ['x', 'nope', 'y'] } })).body).toMatchObject({ items: [{ key: 'x', value: '1' }, { key: 'y', value: '2' }], missing: ['nope'] });
    const combined = await api.call('POST', '/api/v1/storage/batch', { token, body: { set: [{ key: 'z', value: '3' }], delete: ['x'], get: ['z', 'x'] } });
    expect(combined.body).toMatchObject({ set: [{ key: 'z' }], deleted: ['x'], get: { items: [{ key: 'z', value: '3' }], missing: ['x'] } });
    expectError(await api.call('POST', '/api/v1/storage/batch/set', { token, body: { items: [{ key: 'dup', value: '1' }, { key: 'dup', value: '2' }] } }), 400, 'INVALID_REQUEST', 'items');
    expectError(await api.call('POST', '/api/v1/storage/batch/get', { token, body: { keys: [] } }), 400, 'INVALID_REQUEST', 'keys');
    // A bad read key refuses the whole request before its writes: nothing written, nothing deleted.
    expectError(await api.call('POST', '/api/v1/storage/batch', { token, body: { set: [{ key: 'w', value: '4' }], delete: ['z'], get: [''] } }), 400, 'INVALID_REQUEST', 'get[0]');
    expect((await api.call('POST', '/api/v1/storage/batch/get', { token, body: { keys: ['w', 'z'] } })).body).toMatchObject({ items: [{ key: 'z', value: '3' }], missing: ['w'] });
    // An empty read list is no reads.
    expect((await api.call('POST', '/api/v1/storage/batch', { token, body: { get: [], delete: ['z'] } })).body).toMatchObject({ deleted: ['z'], get: { items: [], missing: [] } });
  });

  it('stores ciphertext bound to its row, and a key rotation keeps every value readable', async () => {
    const token = await tokenFor('crypto');
    await put(token, 'diary', { value: 'plain words here' });
    await put(token, 'other', { value: 'more words' });
    const stored = await db.pool.any(sql.type(z.object({ key: z.string(), key_id: z.string(), ciphertext: z.instanceof(Buffer), user_id: z.string() }))`
      SELECT key, key_id, ciphertext, user_id FROM storage_entries WHERE key IN ('diary', 'other')`);
    expect(stored.every((r) => r.key_id === 'old' && !r.ciphertext.includes(Buffer.from('words')))).toBe(true);
    // A value copied onto another row does not open there.
    const diary = stored.find((r) => r.key === 'diary')!;
    await db.pool.query(sql.unsafe`UPDATE storage_entries SET ciphertext = ${sql.binary(diary.ciphertext)} WHERE key = 'other' AND user_id = ${diary.user_id}`);
    const moved = await api.call('GET', path('other'), { token });
    expect(moved.status).toBe(500);
    expect(moved.body.error).toMatchObject({ code: 'INTERNAL_ERROR', message: expect.stringContaining('cannot be decrypted') });
    await put(token, 'other', { value: 'more words' });

    // Rotation: the new key first, the old one still listed; every value is re-encrypted and still reads.
    const cipher = storageCipher(parseStorageKeys(`${NEW_KEY},${OLD_KEY}`, Buffer.from(TEST_DATA_KEY, 'hex')));
    const rotated = await rotateStorageKeys(db.pool, cipher, 3);
    expect(rotated).toBeGreaterThanOrEqual(2);
    const ids = await db.pool.anyFirst(sql.type(z.object({ key_id: z.string() }))`SELECT DISTINCT key_id FROM storage_entries`);
    expect(ids).toEqual(['new']);
    const after = await startTestApi(db, { STORAGE_ENCRYPTION_KEYS: `${NEW_KEY},${OLD_KEY}` });
    try {
      const again = await after.call('GET', path('diary'), { token: await after.token(decodeJwt(token.slice(4)).sub!, SCOPES) });
      expect(again.body.value).toBe('plain words here');
    } finally {
      await after.close();
    }
  });

  it('npm run storage:rotate re-encrypts what is left under an old key', async () => {
    const token = await tokenFor('cli');
    await put(token, 'left-behind', { value: 'still here' });
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/storageRotate.ts'], {
      env: { ...process.env, NODE_ENV: 'development', DATABASE_URL: db.url, DATA_ENCRYPTION_KEY: TEST_DATA_KEY, STORAGE_ENCRYPTION_KEYS: `${NEW_KEY},${OLD_KEY}` },
    });
    expect(stdout).toMatch(/done: [1-9]\d* values re-encrypted; every value is under key new/);
    expect(await db.pool.anyFirst(sql.type(z.object({ key_id: z.string() }))`SELECT DISTINCT key_id FROM storage_entries`)).toEqual(['new']);
  });
});

describe('request bodies', () => {
  it('are read only after the caller is authenticated, and large only on the routes that write values', async () => {
    // Not JSON, no token: refused for the token, without the body being parsed.
    const anonymous = await api.call('PUT', '/api/v1/storage/k', { raw: '{not json' + 'x'.repeat(300_000) });
    expectError(anonymous, 401, 'INVALID_TOKEN');
    // A path that only starts like storage's gets the small limit of every other route.
    const lookalike = await api.call('POST', '/api/v1/storageX', { raw: JSON.stringify({ value: 'x'.repeat(300_000) }) });
    expect(lookalike.status).toBe(413);
    // A reader's body is small too; a writer's may be large.
    const token = await tokenFor('bodies');
    expect((await api.call('POST', '/api/v1/storage/batch/get', { token, raw: JSON.stringify({ keys: ['x'.repeat(300_000)] }) })).status).toBe(413);
    expectError(await api.call('PUT', '/api/v1/storage/big', { token, raw: JSON.stringify({ value: 'x'.repeat(300_000) }) }), 413, 'STORAGE_QUOTA_EXCEEDED', 'value');
  });
});
