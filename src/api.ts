import './telemetry/apiTracing';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { loadConfigOrExit, loadDotEnv, required, type Config } from './config';
import { bucketStore } from './abuse/buckets';
import { systemClock } from './clock';
import { accessChecks } from './auth/clients';
import { followAccessChanges } from './db/accessChanges';
import { createApp } from './http/app';
import { answerUnparsableRequests } from './http/middleware/errors';
import { createLogger, type Logger } from './logger';
import { aggregateForWorkers, shareWithPrimary } from './metrics/cluster';
import { ensureSystemBots } from './matrix/startup';
import { onShutdown, openDatabase, openTepKeys, sealLegacySecrets, syncMiniapps } from './runtime';
import { startHousekeeping } from './sweeps';
import { createTemporal } from './temporal/client';

/** Set by the primary on the one API process that runs the sweeps (they need no more than one). */
const SWEEPER_ENV = 'TMCP_API_SWEEPER';

/**
 * With API_PROCESSES > 1 this process only forks the API processes, which share the port (Node's
 * cluster module hands connections round-robin), replaces one that dies, and stops them on
 * SIGINT/SIGTERM.
 */
function primary(config: Config, log: Logger): void {
  let stopping = false;
  const fork = (sweeper: boolean) => {
    const child = cluster.fork({ [SWEEPER_ENV]: sweeper ? '1' : '0' });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ pid: child.process.pid, code, signal }, 'API process exited; starting another');
      setTimeout(() => {
        if (!stopping) fork(sweeper);
      }, 1000);
    });
  };
  aggregateForWorkers();
  for (let i = 0; i < config.http.processes; i += 1) fork(i === 0);
  log.info({ processes: config.http.processes }, 'API processes started');
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'tmcp-api');
  if (config.http.processes > 1 && cluster.isPrimary) {
    primary(config, log);
    return;
  }
  const sweeper = cluster.isPrimary || process.env[SWEEPER_ENV] === '1';
  if (cluster.isWorker) shareWithPrimary();
  if (config.mode === 'production') required(config.adminToken, 'ADMIN_TOKEN');
  const dataKey = required(config.dataKey, 'DATA_ENCRYPTION_KEY');
  const pool = await openDatabase(config, log);
  await sealLegacySecrets(pool, dataKey, log);
  await syncMiniapps(config, pool, log);
  const keys = await openTepKeys(config, log);
  const temporal = createTemporal({
    address: required(config.temporal.address, 'TEMPORAL_ADDRESS'),
    namespace: config.temporal.namespace,
    ...(config.temporal.tls ? { tls: config.temporal.tls } : {}),
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
    taskQueue: config.temporal.taskQueue,
  });
  const access = accessChecks(pool);
  const accessFeed = followAccessChanges(required(config.database.url, 'DATABASE_URL'), { onChange: access.changed, onReset: access.reset }, log);
  const buckets = bucketStore(pool, config.rateLimits.redisUrl);
  let draining = false;
  const app = createApp({ config, pool, keys, temporal, log, access, buckets, draining: () => draining });
  const server = app.listen(config.http.port, config.http.host);
  answerUnparsableRequests(server);
  await once(server, 'listening');
  log.info(
    { url: `http://${config.http.host}:${config.http.port}`, public_url: config.http.publicUrl, rate_limit_store: buckets.name, rate_limit_scale: config.rateLimits.scale },
    'API listening',
  );
  const bots = config.matrix ? ensureSystemBots(config.matrix, config.appservice.id, log) : undefined;
  const sweeps = sweeper ? startHousekeeping({ pool, temporal, log, config, clock: systemClock, databaseUrl: required(config.database.url, 'DATABASE_URL') }) : undefined;
  if (!config.matrix) log.info('Matrix is off (no MATRIX_HOMESERVER_URL): room events are skipped and room membership is not checked');

  onShutdown(log, async () => {
    // Keep serving for SHUTDOWN_DRAIN_SECONDS with /ready at 503, so the load balancer stops
    // sending here before the port closes; then finish the requests in flight.
    draining = true;
    if (config.http.drainMs > 0) {
      log.info({ drain_ms: config.http.drainMs }, 'draining: /ready answers 503');
      await new Promise((resolve) => setTimeout(resolve, config.http.drainMs));
    }
    bots?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sweeps?.stop();
    await accessFeed.close();
    await buckets.close();
    await temporal.close();
    await pool.end();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`tmcp-api failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
