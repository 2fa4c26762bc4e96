import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadTepKeys } from '../../src/auth/keys';
import { verifyTep } from '../../src/auth/tep';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { syncMiniapps } from '../../src/runtime';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { scratchFile } from '../helpers/scratch';

const run = promisify(execFile);
let db: TestDatabase;
let keysFile: string;
beforeAll(async () => {
  db = await freshDatabase();
  keysFile = (await testKeys()).file;
  await syncMiniapps(loadConfig({}), db.pool, pino({ level: 'silent' }));
});
afterAll(async () => {
  await db.close();
});

function token(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], {
    env: { ...process.env, NODE_ENV: 'development', DATABASE_URL: db.url, TEP_KEYS_FILE: keysFile, PUBLIC_URL: 'http://cli.test', ...env },
  });
}

test('mints a verifiable token for a registered mini-app and its scopes', async () => {
  const { stdout } = await token(['--user', '@alice:localhost', '--client', 'ma_demo', '--scope', 'wallet:balance wallet:pay']);
  const keys = await loadTepKeys(keysFile);
  const verified = await verifyTep(keys, stdout.trim(), { issuer: 'http://cli.test' });
  expect(verified.userId).toBe('@alice:localhost');
  expect(verified.clientId).toBe('ma_demo');
  expect([...verified.scopes]).toEqual(['wallet:balance', 'wallet:pay']);
});

test('works with MATRIX_HOMESERVER_URL exported, as npm start does, taking the AS tokens from the data folder', async () => {
  const { stdout } = await token(['--user', '@bob:localhost', '--client', 'tween_client', '--scope', 'wallet:balance'], {
    MATRIX_HOMESERVER_URL: 'http://localhost:8008',
    TMCP_DATA_DIR: scratchFile('data'),
  });
  const verified = await verifyTep(await loadTepKeys(keysFile), stdout.trim(), { issuer: 'http://cli.test' });
  expect(verified).toMatchObject({ userId: '@bob:localhost', clientId: 'tween_client' });
});

test.each([
  [['--user', '@alice:localhost', '--client', 'ma_nope', '--scope', 'user:read'], {}, /no mini-app ma_nope is registered/],
  [['--user', '@alice:localhost', '--client', 'ma_shop_001', '--scope', 'wallet:pay messaging:send'], {}, /not registered for messaging:send/],
  [['--user', 'alice', '--client', 'ma_demo', '--scope', 'user:read'], {}, /--user: must be a Matrix user id/],
  [['--user', '@alice:localhost', '--client', 'ma_demo', '--scope', 'user:read'], { NODE_ENV: 'production', TEMPORAL_ADDRESS: 'x:1', MINIAPPS_FILE: 'config/miniapps.dev.yaml', DATA_ENCRYPTION_KEY: '11'.repeat(32), MATRIX_HOMESERVER_URL: 'http://hs.test', MATRIX_AS_TOKEN: 'a', MATRIX_HS_TOKEN: 'h' }, /for development/],
])('refuses %j', async (args, env, message) => {
  const error = await token(args, env).catch((e: { code: number; stderr: string }) => e);
  expect(error).toMatchObject({ code: 1, stderr: expect.stringMatching(message) });
});
