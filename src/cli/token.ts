import { parseArgs } from 'node:util';
import { loadConfigOrExit, loadDotEnv } from '../config';
import { ensureDevKeysFile, loadTepKeys } from '../auth/keys';
import { issueTep } from '../auth/tep';
import { miniappById } from '../db/miniapps';
import { createDatabasePool } from '../db/pool';
import { walletByUser } from '../db/wallets';
import { parseScopeString } from '../domain/scopes';
import { MatrixUserId } from '../http/schemas';
import { applyDevMatrixTokens, localDatabaseUrl } from '../dev/secrets';

const USAGE = 'usage: npm run token -- --user @alice:localhost --client ma_demo --scope "wallet:balance wallet:pay" [--ttl 3600]';

/**
 * `npm run token`: mint a TEP token for local use until the OAuth grants exist. It refuses in
 * production, for unknown mini-apps, and for scopes the mini-app is not registered for.
 */
async function main(): Promise<void> {
  loadDotEnv();
  await applyDevMatrixTokens();
  const config = loadConfigOrExit();
  if (config.mode === 'production') throw new Error('npm run token is for development; production tokens come from the OAuth endpoints');
  const { values } = parseArgs({
    options: { user: { type: 'string' }, client: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string' } },
    strict: true,
  });
  if (!values.user || !values.client || !values.scope) throw new Error(USAGE);
  const user = MatrixUserId.safeParse(values.user);
  if (!user.success) throw new Error(`--user: ${user.error.issues[0]?.message}`);
  const ttl = values.ttl === undefined ? config.tep.ttlSeconds : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl: a positive number of seconds');

  const pool = await createDatabasePool(await localDatabaseUrl(config), { maximumPoolSize: 1 });
  try {
    const app = await miniappById(pool, values.client);
    if (!app) throw new Error(`--client: no mini-app ${values.client} is registered (see ${config.miniappsFile})`);
    const scopes = parseScopeString(values.scope);
    const unregistered = scopes.filter((s) => !app.scopes.includes(s));
    if (scopes.length === 0) throw new Error('--scope: at least one scope');
    if (unregistered.length > 0) throw new Error(`--scope: ${values.client} is not registered for ${unregistered.join(', ')}`);
    const wallet = await walletByUser(pool, user.data);
    await ensureDevKeysFile(config.tep.keysFile);
    const keys = await loadTepKeys(config.tep.keysFile);
    const issued = await issueTep(
      keys,
      { issuer: config.http.publicUrl, ttlSeconds: ttl },
      { userId: user.data, clientId: app.client_id, scopes, walletId: wallet?.id ?? null },
    );
    process.stdout.write(`${issued.token}\n`);
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${/ECONNREFUSED/.test(message) ? 'cannot reach PostgreSQL: start the server (npm start) or set DATABASE_URL' : message}\n`);
  process.exit(1);
});
