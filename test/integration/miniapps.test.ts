import { writeFile } from 'node:fs/promises';
import { sql } from 'slonik';
import { z } from 'zod';
import { miniappById, upsertMiniapps } from '../../src/db/miniapps';
import { ALL_SCOPES } from '../../src/domain/scopes';
import { readMiniappsFile } from '../../src/miniapps/registryFile';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { scratchFile } from '../helpers/scratch';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

async function yamlFile(text: string): Promise<string> {
  const file = scratchFile('miniapps.yaml');
  await writeFile(file, text);
  return file;
}

test('the development registry has ma_demo with every scope', async () => {
  const apps = await readMiniappsFile('config/miniapps.dev.yaml');
  const demo = apps.find((a) => a.client_id === 'ma_demo');
  expect(demo?.scopes.sort()).toEqual([...ALL_SCOPES].sort());
});

test('loading the file fills the table and gives each app a merchant account; loading again updates', async () => {
  const file = await yamlFile(`
miniapps:
  - client_id: ma_shop_001
    name: Shop
    scopes: [user:read, wallet:pay]
    pre_approved_scopes: [user:read]
`);
  await upsertMiniapps(db.pool, await readMiniappsFile(file), 'USD');
  expect(await miniappById(db.pool, 'ma_shop_001')).toEqual({
    client_id: 'ma_shop_001', name: 'Shop', scopes: ['user:read', 'wallet:pay'], pre_approved_scopes: ['user:read'], status: 'active', first_party: false,
  });
  const merchant = await db.pool.exists(sql.unsafe`SELECT 1 FROM accounts WHERE kind = 'merchant' AND owner = 'ma_shop_001' AND currency = 'USD'`);
  expect(merchant).toBe(true);

  await upsertMiniapps(db.pool, [{ client_id: 'ma_shop_001', name: 'Shop 2', scopes: ['user:read'], pre_approved_scopes: [], first_party: false }], 'USD');
  expect(await miniappById(db.pool, 'ma_shop_001')).toMatchObject({ name: 'Shop 2', scopes: ['user:read'] });
  const count = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM accounts WHERE owner = 'ma_shop_001'`);
  expect(count).toBe(1);
});

test.each([
  ['an unknown scope', 'miniapps:\n  - {client_id: ma_x, name: X, scopes: [wallet:steal]}\n', /unknown scope 'wallet:steal'/],
  ['a bad client id', 'miniapps:\n  - {client_id: shop, name: X, scopes: [user:read]}\n', /client_id: must look like ma_shop_001/],
  ['pre-approved scopes outside the registered ones', 'miniapps:\n  - {client_id: ma_x, name: X, scopes: [user:read], pre_approved_scopes: [wallet:pay]}\n', /pre_approved_scopes must be a subset/],
  ['a duplicate client id', 'miniapps:\n  - {client_id: ma_x, name: X, scopes: [user:read]}\n  - {client_id: ma_x, name: Y, scopes: [user:read]}\n', /ma_x is listed twice/],
  ['an unknown key', 'miniapps:\n  - {client_id: ma_x, name: X, scopes: [user:read], secret: s}\n', /Unrecognized key/],
])('refuses a registry with %s', async (_what, text, message) => {
  await expect(readMiniappsFile(await yamlFile(text))).rejects.toThrow(message);
});
