import type { Config } from './config';
import { required } from './config';
import { ensureDevKeysFile, loadTepKeys, type TepKeys } from './auth/keys';
import { migrate } from './db/migrate';
import { databaseUnreachable } from './db/unreachable';
import { sealPlaintextTotpSecrets } from './db/mfa';
import { upsertMiniapps } from './db/miniapps';
import { createDatabasePool, type DatabasePool } from './db/pool';
import type { Logger } from './logger';
import { readMiniappsFile } from './miniapps/registryFile';
import { totpSealer } from './factors/totp';
import { untilReachable } from './untilReachable';

/** Where DATABASE_URL points, for a log line: host and port, never the credentials. */
function databaseHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unparsable DATABASE_URL';
  }
}

/** Shared start-up steps of the api and worker processes. */
export async function openDatabase(config: Config, log: Logger): Promise<DatabasePool> {
  const url = required(config.database.url, 'DATABASE_URL');
  // The first contact: a process started before its PostgreSQL, or while it restarts, waits for it.
  const applied = await untilReachable(() => migrate(url), {
    unreachable: databaseUnreachable,
    log,
    message: 'PostgreSQL not reachable, waiting',
    fields: { database_host: databaseHost(url) },
  });
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  return createDatabasePool(url, { maximumPoolSize: config.database.poolSize, preparedStatements: config.database.preparedStatements });
}

/** Seals the TOTP secrets an earlier version kept in plaintext (both processes hold the key; either may run first). */
export async function sealLegacySecrets(pool: DatabasePool, dataKey: Buffer, log: Logger): Promise<void> {
  const sealer = totpSealer(dataKey);
  const sealed = await sealPlaintextTotpSecrets(pool, (userId, secret) => sealer.seal(secret, userId));
  if (sealed > 0) log.info({ sealed }, 'sealed TOTP secrets kept in plaintext by an earlier version');
}

/** TEP keys; outside production a missing key file is created (and kept) on first use. */
export async function openTepKeys(config: Config, log: Logger): Promise<TepKeys> {
  if (config.mode !== 'production' && (await ensureDevKeysFile(config.tep.keysFile))) {
    log.warn({ file: config.tep.keysFile }, 'created a development TEP signing key');
  }
  return loadTepKeys(config.tep.keysFile);
}

export async function syncMiniapps(config: Config, pool: DatabasePool, log: Logger): Promise<void> {
  const apps = await readMiniappsFile(config.miniappsFile);
  await upsertMiniapps(pool, apps, config.wallet.defaultCurrency);
  log.info({ file: config.miniappsFile, count: apps.length }, 'mini-app registry loaded');
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
