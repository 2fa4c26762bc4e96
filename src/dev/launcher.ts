import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigOrExit, loadDotEnv } from '../config';
import { ensureDevKeysFile } from '../auth/keys';
import { migrate } from '../db/migrate';
import { createLogger } from '../logger';
import { startProviderSimulator, type ProviderSimulator } from './providerSimulator';
import { startEmbeddedPostgres, type RunningPostgres } from './embeddedPostgres';
import { applyDevMatrixTokens, ensureDevSecrets } from './secrets';
import { ensureTemporalCli } from './temporalCli';
import { startTemporalDevServer, type RunningTemporal } from './temporalDevServer';

/**
 * `npm start`: the whole server on one machine. Starts what the environment does not point
 * elsewhere (embedded PostgreSQL unless DATABASE_URL, the Temporal dev server unless
 * TEMPORAL_ADDRESS), migrates, then runs the worker and the API as child processes, exactly the
 * processes production runs. Ctrl-C stops the children first, then Temporal, then PostgreSQL.
 */
async function main(): Promise<void> {
  loadDotEnv();
  await applyDevMatrixTokens();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'tmcp-dev');
  await mkdir(config.dataDir, { recursive: true });
  const secrets = await ensureDevSecrets(config.dataDir);
  const childEnv: NodeJS.ProcessEnv = { ...process.env };

  let postgres: RunningPostgres | undefined;
  let temporal: RunningTemporal | undefined;
  let simulator: ProviderSimulator | undefined;
  const children: ChildProcess[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping');
    await Promise.all(children.map((child) => stopChild(child)));
    await simulator?.close().catch((err: unknown) => log.warn({ err }, 'provider simulator stop'));
    await temporal?.stop().catch((err: unknown) => log.warn({ err }, 'temporal stop'));
    await postgres?.stop().catch((err: unknown) => log.warn({ err }, 'postgres stop'));
    log.info('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    if (!config.database.url) {
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.database.embeddedPort,
        password: secrets.postgres_password,
        database: 'tmcp',
        persistent: true,
      });
      childEnv.DATABASE_URL = postgres.url;
      log.info({ port: config.database.embeddedPort, data: path.join(config.dataDir, 'postgres') }, 'embedded PostgreSQL running');
    }
    if (!config.temporal.address) {
      const cliPath = await ensureTemporalCli({ configured: config.temporal.cliPath }, (line) => process.stdout.write(`${line}\n`));
      temporal = await startTemporalDevServer({
        cliPath,
        dbFile: path.join(config.dataDir, 'temporal.sqlite'),
        port: config.temporal.devPort,
        uiPort: config.temporal.uiPort,
      });
      childEnv.TEMPORAL_ADDRESS = temporal.address;
      log.info({ address: temporal.address, cli: cliPath ?? 'SDK download' }, 'Temporal dev server running');
    }
    childEnv.ADMIN_TOKEN ??= secrets.admin_token;
    childEnv.DATA_ENCRYPTION_KEY ??= secrets.data_encryption_key;
    if (config.mode !== 'production') await ensureDevKeysFile(config.tep.keysFile);
    childEnv.TEP_KEYS_FILE ??= config.tep.keysFile;

    // No provider of top-ups configured: the simulator takes the payments, here in the launcher,
    // and calls the API back as a provider would.
    if (config.providers.topUp === 'simulator' && !process.env.PROVIDER_SIMULATOR_URL) {
      simulator = await startProviderSimulator({
        secret: config.providers.simulator.secret,
        callbackUrl: `http://127.0.0.1:${config.http.port}/api/v1/wallet/providers/simulator/callback`,
        // Payouts of the development stack are paid a few seconds after they are made (the load benchmark: at once).
        payoutSettleMs: Number(process.env.PROVIDER_SIMULATOR_PAYOUT_SETTLE_MS || 3000),
      });
      childEnv.PROVIDER_SIMULATOR_URL = simulator.url;
      log.info({ url: simulator.url }, 'provider simulator running (no TOPUP_PROVIDER configured)');
    }

    const applied = await migrate(childEnv.DATABASE_URL!);
    log.info({ applied }, 'database migrated');

    for (const [name, entry] of [['worker', 'src/worker.ts'], ['api', 'src/api.ts']] as const) {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: childEnv, stdio: 'inherit' });
      child.on('exit', (code, signal) => {
        // Ctrl-C reaches the children too, and one may exit before our own SIGINT handler runs:
        // wait a moment before taking an exit as a crash.
        setTimeout(() => {
          if (stopping) return;
          log.error({ process: name, code, signal }, 'child process exited; stopping everything');
          void stopAll(1);
        }, 250);
      });
      children.push(child);
    }

    const apiUrl = `http://localhost:${config.http.port}`;
    await waitForReady(`${apiUrl}/ready`, () => stopping);
    process.stdout.write(
      [
        '',
        'TMCP server is running',
        `  API            ${apiUrl}  (liveness ${apiUrl}/health, readiness ${apiUrl}/ready)`,
        temporal ? `  Temporal UI    http://localhost:${config.temporal.uiPort}` : `  Temporal       ${config.temporal.address}`,
        childEnv.MATRIX_HOMESERVER_URL ? `  Homeserver     ${childEnv.MATRIX_HOMESERVER_URL}` : '  Matrix         off (npm run dev:synapse, then MATRIX_HOMESERVER_URL=http://localhost:8008 npm start)',
        simulator
          ? `  Top-ups        the provider simulator at ${simulator.url} (no TOPUP_PROVIDER configured): pay at a top-up's checkout_url`
          : `  Top-ups        ${config.providers.topUp}`,
        `  Admin token    ${path.join(config.dataDir, 'dev-secrets.json')} (admin_token)`,
        `  A TEP token    npm run token -- --user @alice:localhost --client ma_demo --scope "wallet:balance wallet:pay"`,
        '  Ctrl-C stops everything; data stays in ' + config.dataDir,
        '',
      ].join('\n'),
    );
  } catch (err) {
    // The cause in plain words (pino's JSON would bury PostgreSQL's own lines in one string).
    process.stderr.write(`start failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll(1);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitForReady(url: string, cancelled: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !cancelled()) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!cancelled()) throw new Error(`API did not answer ${url} within 120 s`);
}

void main();
