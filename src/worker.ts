import './telemetry/workerTracing';
import { createActivities } from '../activities';
import { loadConfigOrExit, loadDotEnv, required } from './config';
import { createLogger } from './logger';
import { providerRegistry } from './providers/registry';
import { openDatabase, sealLegacySecrets } from './runtime';
import { freeLoopbackPort, startWorkerEndpoint } from './metrics/workerEndpoint';
import { createWorker, installSdkRuntime } from './temporal/worker';

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'tmcp-worker');
  // The SDK drains a running worker on SIGINT/SIGTERM, but while the worker is still being created
  // its signal hooks would keep the process alive retrying a server that may be gone: leave at once.
  let running = false;
  const leaveIfStarting = () => {
    if (!running) process.exit(0);
  };
  process.once('SIGINT', leaveIfStarting);
  process.once('SIGTERM', leaveIfStarting);
  // The SDK's exporter on a loopback port of its own; the worker's metrics port serves it with ours.
  const sdkMetricsPort = config.workerMetricsPort !== undefined ? await freeLoopbackPort() : undefined;
  installSdkRuntime(log, sdkMetricsPort !== undefined ? { prometheusAddress: `127.0.0.1:${sdkMetricsPort}` } : {});
  const dataKey = required(config.dataKey, 'DATA_ENCRYPTION_KEY');
  const pool = await openDatabase(config, log);
  await sealLegacySecrets(pool, dataKey, log);
  const { worker, connection } = await createWorker(
    {
      address: required(config.temporal.address, 'TEMPORAL_ADDRESS'),
      namespace: config.temporal.namespace,
      ...(config.temporal.tls ? { tls: config.temporal.tls } : {}),
      ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
      taskQueue: config.temporal.taskQueue,
      workflowBundlePath: config.temporal.workflowBundlePath,
      workflowStackTraces: config.temporal.workflowStackTraces,
      waitForServer: log,
    },
    createActivities({
      pool,
      log,
      matrix: config.matrix,
      dataKey,
      lockout: config.lockout,
      wallet: config.wallet,
      payments: config.payments,
      webhookAllowPrivate: config.webhookAllowPrivate,
      providers: providerRegistry(config.providers),
    }),
    // On SIGTERM the worker stops polling and lets running activities finish for this long.
    { shutdownGraceTime: config.workerShutdownGraceMs },
  );
  running = true;
  const endpoint =
    config.workerMetricsPort !== undefined
      ? await startWorkerEndpoint({
          host: config.http.host,
          port: config.workerMetricsPort,
          sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
          running: () => worker.getState() === 'RUNNING',
        })
      : undefined;
  log.info({ task_queue: config.temporal.taskQueue, namespace: config.temporal.namespace, metrics_port: config.workerMetricsPort }, 'worker running');
  // The SDK installs its own SIGINT/SIGTERM handling: run() resolves once the worker has drained.
  await worker.run();
  endpoint?.close();
  await connection.close();
  await pool.end();
  log.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`tmcp-worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
