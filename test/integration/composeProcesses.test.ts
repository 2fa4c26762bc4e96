import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ADMIN_TOKEN, apiClient, freePort } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { testEnv } from '../setup/env';

/**
 * What the compose stack's api and worker containers run, run here without containers (no engine
 * on this machine): the same entry points, the compose file's environment in production mode (its
 * `${VAR}` filled in, its hosts pointed at this run's PostgreSQL, Temporal and a stub homeserver,
 * its ports moved to free ones), and the same health checks, which must pass. Then a device grant
 * proves API, Temporal and worker work together.
 */
const run = promisify(execFile);
interface Service {
  command: string[];
  environment: Record<string, string>;
  healthcheck: { test: string[] };
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> };
const ENTRY: Record<string, 'api' | 'worker'> = { 'dist/src/api.js': 'api', 'dist/src/worker.js': 'worker' };

let db: TestDatabase;
let hs: StubHomeserver;
const procs: ServerProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await hs?.close();
  await db?.close();
});

/** `${NAME:?message}` and `${NAME:-default}` as compose fills them, from `given`. */
function filled(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_all, name: string, kind?: string, rest?: string) => {
    if (given[name] !== undefined) return given[name]!;
    if (kind === '-') return rest ?? '';
    throw new Error(`compose needs ${name}: ${rest}`);
  });
}

test("the compose file's api and worker start in production mode with its environment, and pass its health checks", async () => {
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${apiPort}`;
  const given = {
    TMCP_ADMIN_TOKEN: ADMIN_TOKEN,
    TMCP_DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    TMCP_MATRIX_AS_TOKEN: 'as-token-compose-test-0123456789',
    TMCP_MATRIX_HS_TOKEN: 'hs-token-compose-test-0123456789',
    TMCP_PUBLIC_URL: publicUrl,
  };
  const keys = await testKeys();
  // Where the containers reach their neighbours by service name, this run has its own.
  const here: Record<string, string> = {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: testEnv('temporalAddress'),
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('compose'),
    MATRIX_HOMESERVER_URL: hs.url,
    TEP_KEYS_FILE: keys.file,
    MINIAPPS_FILE: 'config/miniapps.dev.yaml',
    WORKFLOW_BUNDLE_PATH: testEnv('workflowBundle'),
  };
  const ports = { api: { from: '3000', to: String(apiPort) }, worker: { from: '9464', to: String(metricsPort) } };

  for (const name of ['worker', 'api'] as const) {
    const service = compose.services[name]!;
    expect(service.command[0]).toBe('node');
    expect(ENTRY[service.command[1]!]).toBe(name);
    const env = Object.fromEntries(Object.entries(service.environment).map(([k, v]) => [k, filled(String(v), given)]));
    expect(env.NODE_ENV).toBe('production');
    // The port the service listens on is the one its health check asks.
    const listens = name === 'api' ? env.PORT : env.WORKER_METRICS_PORT;
    expect(listens).toBe(ports[name].from);
    expect(service.healthcheck.test.join(' ')).toContain(`127.0.0.1:${listens}/`);
    const proc = startServerProcess(name, {
      ...env,
      ...Object.fromEntries(Object.keys(here).filter((k) => k in env).map((k) => [k, here[k]!])),
      TEMPORAL_TASK_QUEUE: here.TEMPORAL_TASK_QUEUE!,
      DATABASE_URL: here.DATABASE_URL!,
      ...(name === 'api' ? { PORT: ports.api.to } : { WORKER_METRICS_PORT: ports.worker.to }),
    });
    procs.push(proc);
    await proc.ready;
    // The compose health check, as the engine would run it in the container.
    const [command, ...args] = service.healthcheck.test.slice(1).map((a) => a.replace(`127.0.0.1:${ports[name].from}`, `127.0.0.1:${ports[name].to}`));
    const check = async () => run(command === 'node' ? process.execPath : command!, args).then(() => 0, () => 1);
    let healthy = 1;
    for (let i = 0; i < 40 && healthy !== 0; i += 1) {
      healthy = await check();
      if (healthy !== 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect([name, healthy]).toEqual([name, 0]);
  }

  // The Dockerfile's own HEALTHCHECK (the API's) passes against the api.
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const healthcheck = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(dockerfile);
  const [, ...checkArgs] = JSON.parse(healthcheck![1]!) as string[];
  await expect(run(process.execPath, checkArgs, { env: { ...process.env, PORT: String(apiPort) } })).resolves.toBeDefined();

  // API, Temporal and worker together: a device grant's workflow answers the poll.
  const client = apiClient(publicUrl, keys.keys, publicUrl);
  const form = (path: string, fields: Record<string, string>) =>
    client.call('POST', path, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const grant = await form('/api/v1/oauth2/device/authorization', { client_id: 'ma_demo', scope: 'user:read' });
  expect(grant.status).toBe(200);
  const poll = await form('/api/v1/oauth/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: grant.body.device_code, client_id: 'ma_demo' });
  expect(poll.body.error).toBe('authorization_pending');
}, 120_000);
