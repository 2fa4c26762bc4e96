import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'slonik';
import { issueTep } from '../../src/auth/tep';
import { databaseNow, replaceJoinedMembers } from '../../src/db/matrix';
import { paymentsBot } from '../../src/matrix/bots';
import { ADMIN_TOKEN, TEST_DATA_KEY } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { pinProof, PIN, ALL_WALLET_SCOPES, MESSENGER_CLIENT } from '../helpers/p2p';
import { startServerProcess } from '../helpers/serverProcess';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy';
import { freePort } from '../setup/globalSetup';
import { testEnv } from '../setup/env';
import { checkInvariants, type Invariant } from './invariants';
import { Book, Caller, randomOperation, ROOM_ID, type ChaosUser, type Traffic } from './load';
import { RestartableTemporal, Supervised, temporalFile } from './system';

/**
 * `npm run test:chaos`: money under faults. CHAOS_CLIENTS (16) clients send random P2P transfers,
 * payments (a fifth with a PIN as second factor), refunds, gift drops and openings among
 * CHAOS_WALLETS (50) wallets for CHAOS_SECONDS (120), through two API processes, while:
 *   - the worker is killed (SIGKILL) at random moments and started again;
 *   - random PostgreSQL backends of the server are terminated (pg_terminate_backend);
 *   - the homeserver refuses connections for 20 s, then answers 500 for 10 s, then recovers;
 *   - one API process is killed and started again; the Temporal dev server is restarted once.
 * After CHAOS_QUIET_SECONDS (60) of quiet it checks the invariants (invariants.ts) and writes the
 * report to chaos-results/chaos-<time>.md (the README shows the latest).
 */
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 120);
const QUIET_SECONDS = Number(process.env.CHAOS_QUIET_SECONDS ?? 60);
const CLIENTS = Number(process.env.CHAOS_CLIENTS ?? 16);
const WALLETS = Number(process.env.CHAOS_WALLETS ?? 50);
const FUND_MINOR = 1_000_000;
const TOKEN_TTL_SECONDS = 6 * 3600;

let db: TestDatabase;
let hs: StubHomeserver;
let hsDoor: TcpProxy;
let temporal: RestartableTemporal;
const processes: Supervised[] = [];

afterAll(async () => {
  for (const p of processes) await p.stop().catch(() => undefined);
  await temporal?.stop().catch(() => undefined);
  await hsDoor?.close();
  await hs?.close();
  await db?.close();
});

/** Every fault, as it was injected, with its time from the start of the load. */
class FaultLog {
  readonly lines: string[] = [];
  private readonly started = Date.now();
  readonly counts: Record<string, number> = {};

  note(kind: string, what: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.lines.push(`${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)} s  ${what}`);
  }
}

const between = (lowMs: number, highMs: number) => lowMs + Math.random() * (highMs - lowMs);

/** Runs `fault` at random moments (every `lowMs`..`highMs`) until `until`. */
async function every(lowMs: number, highMs: number, until: number, fault: () => Promise<void>): Promise<void> {
  for (;;) {
    await sleep(between(lowMs, highMs));
    if (Date.now() >= until) return;
    await fault();
  }
}

test(`money stays whole through ${SECONDS} s of faults`, async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  hsDoor = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(hs.url).port) });
  temporal = new RestartableTemporal(temporalFile(testEnv('scratchDir')), await freePort());
  await temporal.start();

  const { file, keys } = await testKeys();
  const ports = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${ports[0]}`;
  const taskQueue = `chaos-${Date.now().toString(36)}`;
  const shared = {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
    ...stubMatrixEnv(hs, 'chaos'),
    MATRIX_HOMESERVER_URL: `http://${hsDoor.address}`,
    // The payers' devices are registered just before they pay: the new-device rule would ask every payment for a second factor.
    PAYMENT_MFA_NEW_DEVICE_DAYS: '0',
  };
  const worker = new Supervised('worker', () => startServerProcess('worker', shared));
  // Both APIs answer for one issuer: a client's token works on either.
  const apis = ports.map((port, i) => new Supervised(`api ${i + 1}`, () => startServerProcess('api', { ...shared, HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: issuer, TEP_KEYS_FILE: file, ADMIN_TOKEN })));
  processes.push(worker, ...apis);
  await Promise.all(processes.map((p) => p.ready()));

  // Setup, through the API: wallets with funds, a PIN and a device key; a shop with a backend; one room of everyone.
  const caller = new Caller(ports.map((p) => `http://127.0.0.1:${p}`));
  const mint = async (userId: string, clientId: string) => (await issueTep(keys, { issuer, ttlSeconds: TOKEN_TTL_SECONDS }, { userId, clientId, scopes: ALL_WALLET_SCOPES, walletId: null })).token;
  const must = async (what: string, answer: Promise<{ status: number; body: any } | undefined>, ok = [200, 201]) => {
    const a = await answer;
    if (!a || !ok.includes(a.status)) throw new Error(`${what}: ${a?.status} ${JSON.stringify(a?.body)}`);
    return a.body;
  };
  const shop = await must('shop', caller.call('POST', '/api/v1/admin/mini-apps', {
    token: ADMIN_TOKEN,
    body: ({ name: 'Chaos Shop', client_type: 'hybrid', scopes: ['user:read', 'wallet:pay'] }),
  }));
  const runId = Date.now().toString(36);
  const users: ChaosUser[] = [];
  for (let i = 0; i < WALLETS; i += 1) {
    const userId = `@chaos${i}_${runId}:tmcp.test`;
    const [token, messenger, shopToken] = await Promise.all([mint(userId, 'ma_demo'), mint(userId, MESSENGER_CLIENT), mint(userId, shop.client_id as string)]);
    const { wallet_id: walletId } = await must('register', caller.call('POST', '/api/v1/wallet/register', { token, body: ({}) }));
    await must('fund', caller.call('POST', `/api/v1/admin/wallets/${walletId}/fund`, { token: ADMIN_TOKEN, body: ({ amount: '10000.00', currency: 'USD', idempotency_key: `fund-${walletId}` }) }));
    await must('pin', caller.call('POST', '/api/v1/wallet/pin', { token: messenger, body: ({ pin: PIN }) }));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const deviceId = `phone_${i}`;
    await must('device', caller.call('POST', '/api/v1/wallet/devices/register', {
      token: messenger,
      body: ({ device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...pinProof() }),
    }));
    users.push({ userId, walletId, token, shopToken, deviceId, key: privateKey });
  }

  // The room's member list as if read from the homeserver: everyone joined, and the payments bot that announces gifts.
  await replaceJoinedMembers(db.pool, ROOM_ID, [...users.map((u) => u.userId), paymentsBot('tmcp.test')], await databaseNow(db.pool));
  const book = new Book(users, FUND_MINOR);
  const traffic: Traffic = {
    caller,
    book,
    users,
    shop: { backendAuth: `Basic ${Buffer.from(`${shop.backend.client_id}:${shop.backend.client_secret}`).toString('base64')}` },
    pin: PIN,
    runId,
  };

  // The load, and the faults beside it.
  const faults = new FaultLog();
  const started = Date.now();
  const until = started + SECONDS * 1000;
  const clients = Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < until) await randomOperation(traffic);
    }),
  );
  const at = (fraction: number) => sleep(Math.max(0, started + fraction * SECONDS * 1000 - Date.now()));
  const injected = Promise.all([
    every(15_000, 30_000, until, async () => {
      faults.note('worker killed', 'worker: SIGKILL, started again 2 s later');
      await worker.crash(2000);
    }),
    every(3_000, 8_000, until, async () => {
      const killed = await db.pool.any(sql.unsafe`
        SELECT pid, pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        ORDER BY random() LIMIT 2`);
      faults.note('backends terminated', `PostgreSQL: pg_terminate_backend of ${killed.length} server connection(s)`);
    }),
    (async () => {
      await at(0.2);
      hsDoor.down();
      faults.note('homeserver outage', 'homeserver: refuses connections for 20 s');
      await sleep(20_000);
      hsDoor.up();
      hs.failWith(500);
      faults.note('homeserver outage', 'homeserver: answers 500 for 10 s');
      await sleep(10_000);
      hs.failWith(undefined);
      faults.note('homeserver outage', 'homeserver: recovered');
    })(),
    (async () => {
      await at(0.45);
      faults.note('API killed', 'api 2: SIGKILL, started again 3 s later');
      await apis[1]!.crash(3000);
    })(),
    (async () => {
      await at(0.7);
      faults.note('Temporal restarted', 'Temporal dev server: stopped, started again 2 s later on the same file');
      await temporal.restart(2000);
    })(),
  ]);
  await Promise.all([clients, injected]);
  const loadSeconds = (Date.now() - started) / 1000;
  await sleep(QUIET_SECONDS * 1000);

  const invariants = await checkInvariants({ pool: db.pool, hs, book, calls: caller.stats, temporalAddress: temporal.address, taskQueue });
  const unexpected = processes.flatMap((p) => p.unexpected);
  invariants.push({ name: 'no process died of anything but an injected fault', measured: unexpected.length ? unexpected.join('; ') : 'none', ok: unexpected.length === 0 });
  const report = chaosReport({ loadSeconds, faults, book, invariants });
  const reportFile = path.join(process.cwd(), 'chaos-results', `chaos-${new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.md`);
  await mkdir(path.dirname(reportFile), { recursive: true });
  await writeFile(reportFile, report);
  console.log(`${report}\nreport: ${path.relative(process.cwd(), reportFile)}`);
  expect(invariants.filter((i) => !i.ok)).toEqual([]);
}, (SECONDS + QUIET_SECONDS + 600) * 1000);

function chaosReport(input: { loadSeconds: number; faults: FaultLog; book: Book; invariants: Invariant[] }): string {
  const { book, faults } = input;
  const kinds = Object.keys(book.tried);
  return [
    `# Chaos run, ${new Date().toISOString()}`,
    '',
    `${CLIENTS} clients, ${WALLETS} wallets, ${input.loadSeconds.toFixed(0)} s of load through two API processes, then ${QUIET_SECONDS} s of quiet.`,
    '',
    '## Faults injected',
    '',
    ...Object.entries(faults.counts).map(([k, n]) => `- ${k}: ${n}`),
    '',
    '```',
    ...faults.lines,
    '```',
    '',
    '## Operations',
    '',
    '| operation | tried | succeeded | refused |',
    '| --- | --- | --- | --- |',
    ...kinds.map((k) => `| ${k} | ${book.tried[k]} | ${book.succeeded[k] ?? 0} | ${book.refused[k] ?? 0} |`),
    '',
    ...(book.lost.length ? ['Answers that were not success (first few of each kind):', '', ...book.lost.slice(0, 12).map((l) => `- ${l}`), ''] : []),
    '## Invariants',
    '',
    '| invariant | measured | holds |',
    '| --- | --- | --- |',
    ...input.invariants.map((i) => `| ${i.name} | ${i.measured.replace(/\|/g, '/')} | ${i.ok ? 'yes' : 'NO'} |`),
    '',
  ].join('\n');
}
