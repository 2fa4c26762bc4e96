import { once } from 'node:events';
import { loadConfigOrExit, loadDotEnv, required } from './config';
import { createApp } from './http/app';
import { createLogger } from './logger';
import { ensureSystemBots } from './matrix/startup';
import { onShutdown, openDatabase, openTepKeys, sealLegacySecrets, syncMiniapps } from './runtime';
import { startSagaSweeps } from './sweeps';
import { createTemporal } from './temporal/client';

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'tmcp-api');
  if (config.mode === 'production') required(config.adminToken, 'ADMIN_TOKEN');
  const dataKey = required(config.dataKey, 'DATA_ENCRYPTION_KEY');
  const pool = await openDatabase(config, log);
  await sealLegacySecrets(pool, dataKey, log);
  await syncMiniapps(config, pool, log);
  const keys = await openTepKeys(config, log);
  const temporal = createTemporal({
    address: required(config.temporal.address, 'TEMPORAL_ADDRESS'),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
  });
  const app = createApp({ config, pool, keys, temporal, log });
  const server = app.listen(config.http.port, config.http.host);
  await once(server, 'listening');
  log.info({ url: `http://${config.http.host}:${config.http.port}`, public_url: config.http.publicUrl }, 'API listening');
  const bots = config.matrix ? ensureSystemBots(config.matrix, config.appservice.id, log) : undefined;
  const sweeps = startSagaSweeps({ pool, temporal, log, config });
  if (!config.matrix) log.info('Matrix is off (no MATRIX_HOMESERVER_URL): room events are skipped and room membership is not checked');

  onShutdown(log, async () => {
    bots?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sweeps.stop();
    await temporal.close();
    await pool.end();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`tmcp-api failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
