import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Caller } from '../../src/http/openapi/routeDoc';
import { ADMIN_TOKEN, type TestApi } from '../helpers/api';
import { walletUser } from '../helpers/p2p';
import { startProviderStack, type ProviderStack } from '../helpers/providerStack';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * Schemathesis (PyPI) against the running API, from its own /openapi.json: each kind of caller's
 * routes (a tag each) with a valid credential of that kind, for a bounded time. No answer may be a
 * 5xx, and every answer must match what the document says of it (status, media type, schema).
 * FUZZ_SECONDS_SCALE multiplies every run's time (1: CI's budget); FUZZ_SEED replays a run.
 */
const SCALE = Number(process.env.FUZZ_SECONDS_SCALE ?? 1);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ST = path.resolve('.tools', 'schemathesis', 'bin', 'st');
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'];

let hs: StubHomeserver;
let stack: ProviderStack;
let api: TestApi;
const credentials: Partial<Record<Caller, string>> = {};

beforeAll(async () => {
  execFileSync('scripts/install-schemathesis.sh', { stdio: 'inherit' });
  hs = await startStubHomeserver();
  stack = await startProviderStack('fuzz', stubMatrixEnv(hs, 'fuzz'));
  ({ api } = stack);
  const user = await walletUser(api, { name: 'fuzzed', fund: '1000.00' });
  const shop = await api.call('POST', '/api/v1/admin/mini-apps', {
    token: ADMIN_TOKEN,
    body: { name: 'Fuzz Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'], redirect_uris: ['https://shop.example/callback'] },
  });
  if (shop.status !== 201) throw new Error(`mini-app: ${JSON.stringify(shop.body)}`);
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  credentials['mini-app'] = `Bearer ${await api.token(user.userId, ['user:read', 'wallet:balance', 'wallet:pay', 'wallet:history', 'storage:read', 'storage:write', 'messaging:send', 'room:create', 'room:invite'])}`;
  credentials.messenger = `Bearer ${user.messenger}`;
  credentials.matrix = `Bearer ${stubSession(hs, 'fuzzed').token}`;
  credentials.merchant = basic(shop.body.backend.client_id, shop.body.backend.client_secret);
  credentials.client = basic(shop.body.backend.client_id, shop.body.backend.client_secret);
  credentials.operator = `Bearer ${ADMIN_TOKEN}`;
  const developer = await api.call('POST', '/api/v1/admin/developers', { token: ADMIN_TOKEN, body: { user_id: user.userId } });
  credentials.developer = `Bearer ${developer.body.access_token}`;
  credentials.synapse = `Bearer ${stubMatrixEnv(hs, 'fuzz').MATRIX_HS_TOKEN}`;
});
afterAll(async () => {
  await stack?.close();
  await hs?.close();
});

interface Run {
  code: number;
  output: string;
  requests: number;
  /** How many answers of each status. */
  statuses: Record<string, number>;
}

/** One Schemathesis run over the operations tagged `tag`, with `authorization` on every request. */
async function fuzz(tag: Caller, seconds: number, authorization: string | undefined): Promise<Run> {
  const reports = await mkdtemp(path.join(tmpdir(), `fuzz-${tag}-`));
  const args = [
    'run', `${api.url}/openapi.json`,
    '--url', api.url,
    '--include-tag', tag,
    '--checks', CHECKS.join(','),
    '--max-time', String(Math.max(5, Math.round(seconds * SCALE))),
    '--seed', String(SEED),
    '--workers', '1',
    '--request-timeout', '10',
    '--report', 'ndjson', '--report-dir', reports,
    ...(authorization ? ['--header', `Authorization: ${authorization}`] : []),
  ];
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(ST, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
  // One report file of events; each interaction with the API records its response's status.
  const [report] = await readdir(reports);
  const events = report ? await readFile(path.join(reports, report), 'utf8') : '';
  const statuses: Record<string, number> = {};
  for (const [, status] of events.matchAll(/"status_code":\s*(\d+)/g)) statuses[status!] = (statuses[status!] ?? 0) + 1;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { code, output, requests, statuses };
}

// Each kind of caller for a share of the time, by how many routes it has. Providers sign their
// bodies and browsers carry a session cookie: their routes are fuzzed without either (all 4xx).
// The operator runs last: it may suspend or delete the apps whose credentials the others use.
const RUNS: [Caller, number][] = [
  ['mini-app', 50],
  ['messenger', 30],
  ['merchant', 20],
  ['client', 20],
  ['matrix', 10],
  ['synapse', 10],
  ['anyone', 10],
  ['provider', 5],
  ['browser', 10],
  ['developer', 15],
  ['operator', 25],
];

test.each(RUNS)('%s routes answer no 5xx and only what /openapi.json documents', async (tag, seconds) => {
  process.stdout.write(`schemathesis seed ${SEED} (FUZZ_SEED=${SEED} replays it)\n`);
  const run = await fuzz(tag, seconds, credentials[tag]);
  process.stdout.write(`schemathesis ${tag}: ${run.requests} requests (${JSON.stringify(run.statuses)}), exit ${run.code}\n`);
  if (run.code !== 0) process.stdout.write(run.output.slice(-20_000));
  expect({ tag, exit: run.code, summary: run.code === 0 ? '' : run.output.slice(-4000) }).toEqual({ tag, exit: 0, summary: '' });
  expect(run.requests).toBeGreaterThan(0);
});
