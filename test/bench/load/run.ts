import { spawn } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { giftProofMessage } from '../../../src/domain/gifts';
import { bulkHistory, explainHotQueries, growLedger, settleDatabase } from './growth';
import { httpClient, type HttpClient } from './httpClient';
import type { GeneratorPlan, GeneratorResult, ProofMaterial, Workload } from './plan';
import { plotP2P, type P2PPoint } from './plot';
import { clockTicksPerSecond, cpuDelta, cpuSnapshot, launcherTree } from './processes';
import { summarize } from './stats';
import { confirmTable, cpuPerOp, growthTable, ratiosTable, READ_SCENARIOS, refuseImpossible, resultsTable, WORKFLOW_SCENARIOS, type ScenarioReport } from './report';
import { bootSystem, PROJECT_ROOT, type RunningSystem } from './system';
import { prover, settleTransfer } from './transfer';
import { decimal, mapLimit, p2pPairs, preparer, seedSessions, type BenchUser, type Preparer } from './users';
import { checkBalances, checkLedger, type BalanceCheck, type LedgerCheck } from './verify';

/**
 * `npm run bench:load`: load benchmark of the whole system as `npm start` runs it.
 *
 *   npm run bench:load
 *   BENCH_SECONDS=5 BENCH_CLIENTS=1,4,16 npm run bench:load
 *   BENCH_SCENARIOS=health,balance BENCH_SECONDS=10 npm run bench:load
 *
 * It starts `node --import tsx src/dev/launcher.ts` (embedded PostgreSQL, Temporal dev server,
 * migrations, worker, API) on free ports with a fresh data folder under the temp folder, which it
 * removes at the end. With DATABASE_URL / TEMPORAL_ADDRESS set, the launcher uses those instead, and
 * their CPU is reported as n/a. Users, wallets, funds and payment factors are made through the API
 * (TEPs are minted in-process with the data folder's signing key). Each scenario then runs in a load
 * generator process of its own (generator.ts) on loopback: closed-loop clients over keep-alive
 * connections, a warm-up that is not counted, then the timed window. At the end the system is
 * stopped with Ctrl-C (SIGINT to its process group), also when a scenario failed.
 *
 * Scenarios (BENCH_SCENARIOS=name,... picks some; all by default):
 *   floor         the engine's floor: empty workflows started by Update-with-Start (as a P2P confirm starts
 *                 p2pSaga) on the system's Temporal server, client and worker in the generator, at
 *                 BENCH_FLOOR_CLIENTS; run first whenever a scenario that runs workflows is picked
 *   p2p-device    initiate + confirm with a device signature (ECDSA P-256), at each BENCH_CLIENTS;
 *                 one operation is one settled transfer of 0.01 USD, each client its own sender and recipient
 *   p2p-pin       the same with PIN proofs (scrypt on purpose), at BENCH_PIN_CLIENTS
 *   payment       a mini-app payment of 0.01 USD to ma_demo: request + authorize with a device signature,
 *                 at BENCH_PAYMENT_CLIENTS (16); no second factor (below the threshold, and the system runs
 *                 with PAYMENT_MFA_NEW_DEVICE_DAYS=0: the payers' devices are registered just before)
 *   payment-cancel  a mini-app payment of 0.01 USD requested and cancelled by its payer before
 *                 authorization (the cancel Update), at BENCH_PAYMENT_CLIENTS; nothing moves
 *   gift-burst    one burst, not a closed loop: a 100-share gift of 100.00 USD, then 200 other users open it at
 *                 the same moment (200 connections warmed first); exactly 100 must be paid (else the run
 *                 fails), and the answers' latencies are reported against the 2 s the answers must come in
 *   topup         a top-up of 0.01 USD paid at the provider simulator the launcher runs (its callback wakes
 *                 the saga), at BENCH_PAYMENT_CLIENTS users; one operation is one top-up credited
 *   withdrawal    a withdrawal of 0.01 USD to a linked account (device signature), paid out at once by the
 *                 provider simulator the launcher runs (its callback wakes the saga), at BENCH_PAYMENT_CLIENTS
 *                 users; one operation is one withdrawal completed
 *   gift          a one-share group gift of 0.01 USD dropped (device signature) and opened by another
 *                 user, at BENCH_PAYMENT_CLIENTS pairs; one operation is one gift given and taken
 *   balance       GET /api/v1/wallet/balance, BENCH_CONNECTIONS connections, BENCH_READERS users' tokens
 *   storage-get   GET /api/v1/storage/:key of a 200-byte value, BENCH_CONNECTIONS connections, BENCH_READERS users' tokens
 *   storage-put   PUT /api/v1/storage/:key (replace a 200-byte value), the same
 *   transactions  GET /api/v1/wallet/transactions of a wallet with 61 entries (one page of 50)
 *   device-authorization  POST /api/v1/oauth2/device/authorization: codes and a device-<id> workflow
 *                 started per operation, BENCH_CONNECTIONS connections (approving needs a Matrix
 *                 session, which the benchmark has none of, so the grants expire unanswered)
 *   refresh       the refresh grant at POST /api/v1/oauth/token, BENCH_CLIENTS' largest count of
 *                 clients, each rotating its own token chain (sessions seeded in-process, as a grant makes them)
 *   health        GET /health; run whenever a read is picked (the reads are printed against it)
 *   ready         GET /ready (skipped when the route answers 404)
 *   growth        only when named: P2P at 16 clients, GET balance and the 1st and 50th page of a
 *                 2,551-entry history, then BENCH_GROWTH_ENTRIES journal entries over
 *                 BENCH_GROWTH_WALLETS wallets written in bulk (growth.ts), then the same again
 *                 (rows <name>.empty and <name>.grown), and EXPLAIN ANALYZE of the hot queries
 *
 * Environment:
 *   BENCH_SECONDS          timed seconds per scenario (20)
 *   BENCH_WARMUP_SECONDS   warm-up before each window, not counted (3)
 *   BENCH_CLIENTS          client counts of p2p-device (1,4,16,32,64)
 *   BENCH_PIN_CLIENTS      client count of p2p-pin (16)
 *   BENCH_PAYMENT_CLIENTS  client count of payment (16)
 *   BENCH_FLOOR_CLIENTS    client count of the floor (32)
 *   BENCH_GROWTH_ENTRIES   journal entries the growth scenario adds (1000000)
 *   BENCH_GROWTH_WALLETS   wallets they are spread over (100000)
 *   BENCH_CONNECTIONS      connections of the GET scenarios (64)
 *   BENCH_LOG_LEVEL        LOG_LEVEL of the system (default: the launcher's own, info, as users run it)
 *   BENCH_LIMITER_COST     0 skips the limiter's cost (below)
 *   BENCH_READERS          users of the read scenarios (4); each is its own rate-limit bucket
 *   RATE_LIMIT_SCALE       how much every rate limit is raised for the load (1000000: the limiter runs, never refuses)
 *
 * The rate limiter's cost: when the balance scenario runs, two more systems are started afterwards,
 * alike but for the limiter (on, with the raised limits; off, RATE_LIMIT_SCALE=0), GET balance runs
 * alone on each (balance-limiter-on, balance-limiter-off), and the difference in CPU per request
 * of the API and of PostgreSQL is printed.
 *
 * The generator shares the machine with the system (loopback only): its CPU column says what it took.
 *
 * Output: one row per scenario (operations and errors in the window, operations per second, latency
 * p50/p95/p99/max of successful operations in ms, CPU ms per operation of the API, worker, Temporal
 * server, PostgreSQL and the generator, read from /proc before and after the window, and their
 * total); the full results in bench-results/load-<UTC timestamp>.json with the machine and the
 * configuration; and docs/bench-load-p2p.png, throughput and p99 of p2p-device against clients.
 * Then every wallet's balance is checked against the transfers whose confirm answered `completed`,
 * and the ledger against zero per currency. Exits non-zero when a scenario failed or a check did.
 */

const SCENARIOS = ['floor', 'p2p-device', 'p2p-pin', 'payment', 'payment-cancel', 'gift', 'gift-burst', 'topup', 'withdrawal', 'balance', 'transactions', 'storage-get', 'storage-put', 'device-authorization', 'refresh', 'health', 'ready', 'growth'] as const;
type ScenarioName = (typeof SCENARIOS)[number];
/** Run only when named: it writes a million journal entries. */
const ON_REQUEST: readonly ScenarioName[] = ['growth'];

/** Every transfer moves one cent: far below every limit and below the acceptance threshold, so nothing is held. */
const AMOUNT_MINOR = 1;
const CURRENCY = 'USD';
/** A closed-loop client waits for two requests and a saga per transfer: it cannot settle 1,000 a second. */
const MAX_TRANSFERS_PER_CLIENT_SECOND = 1000;
/** A generator finishes operations in flight after its window for at most this long. */
const DRAIN_SECONDS = 65;
const HISTORY_TRANSFERS = 60;
/** Entries of the growth scenario's history: more than 50 pages of 50. */
const GROWTH_HISTORY = 2_550;
/** The gift burst: openers, shares, and the gift's total (100.00 USD). */
const GIFT_BURST_OPENERS = 200;
const GIFT_BURST_SHARES = 100;
const GIFT_BURST_TOTAL_MINOR = 10_000;
/** Quiet time between scenarios, so one's leftover work does not land in the next one's window. */
const SETTLE_MS = 2000;
const PLOT_FILE = path.join(PROJECT_ROOT, 'docs', 'bench-load-p2p.png');
/** What the storage scenarios read and write: 200 bytes. */
const STORAGE_VALUE = JSON.stringify({ theme: 'dark', lang: 'en', seen: 'x'.repeat(160) }).padEnd(200, ' ');
/** The mini-app of the OAuth scenarios: ma_demo is a public client of the dev registry. */
const BENCH_CLIENT_ID = 'ma_demo';

interface BenchConfig {
  seconds: number;
  warmupSeconds: number;
  clients: number[];
  pinClients: number;
  paymentClients: number;
  connections: number;
  scenarios: ScenarioName[];
  logLevel: string | undefined;
  /** With the balance scenario: run it again on a system with the rate limiter off, and print the difference. */
  limiterCost: boolean;
  /** Users whose tokens the read scenarios spread their requests over (each its own rate-limit bucket). */
  readers: number;
  floorClients: number;
  /** The grown ledger of the growth scenario. */
  growth: { entries: number; wallets: number };
}

function benchConfig(env: NodeJS.ProcessEnv): BenchConfig {
  const list = (name: string, fallback: string) =>
    (env[name]?.trim() || fallback)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  const count = (name: string, value: string, min = 1) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: a whole number of at least ${min}, not ${value}`);
    return n;
  };
  const scenarios = list('BENCH_SCENARIOS', SCENARIOS.filter((s) => !ON_REQUEST.includes(s)).join(','));
  const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  // A ratio needs its base from the same run: the floor under the sagas, /health beside GET balance.
  if (scenarios.some((s) => s === 'growth' || (WORKFLOW_SCENARIOS as readonly string[]).includes(s))) scenarios.push('floor');
  if (scenarios.some((s) => s === 'growth' || (READ_SCENARIOS as readonly string[]).includes(s))) scenarios.push('health');
  return {
    seconds: count('BENCH_SECONDS', env.BENCH_SECONDS?.trim() || '20'),
    warmupSeconds: count('BENCH_WARMUP_SECONDS', env.BENCH_WARMUP_SECONDS?.trim() || '3', 0),
    clients: list('BENCH_CLIENTS', '1,4,16,32,64').map((v) => count('BENCH_CLIENTS', v)),
    pinClients: count('BENCH_PIN_CLIENTS', env.BENCH_PIN_CLIENTS?.trim() || '16'),
    paymentClients: count('BENCH_PAYMENT_CLIENTS', env.BENCH_PAYMENT_CLIENTS?.trim() || '16'),
    connections: count('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS?.trim() || '64'),
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
    logLevel: env.BENCH_LOG_LEVEL?.trim() || undefined,
    limiterCost: env.BENCH_LIMITER_COST?.trim() !== '0',
    readers: count('BENCH_READERS', env.BENCH_READERS?.trim() || '4'),
    floorClients: count('BENCH_FLOOR_CLIENTS', env.BENCH_FLOOR_CLIENTS?.trim() || '32'),
    growth: { entries: count('BENCH_GROWTH_ENTRIES', env.BENCH_GROWTH_ENTRIES?.trim() || '1000000'), wallets: count('BENCH_GROWTH_WALLETS', env.BENCH_GROWTH_WALLETS?.trim() || '100000', 2) },
  };
}

/** Runs one generator process with `plan` on its stdin and reads its result from its stdout. */
async function runGenerator(plan: GeneratorPlan): Promise<GeneratorResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'generator.ts')], { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(JSON.stringify(plan));
  const limitMs = (plan.warmupSeconds + plan.seconds + DRAIN_SECONDS + 60) * 1000;
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  if (code !== 0) throw new Error(`generator exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${limitMs / 1000} s)` : ''}`);
  return JSON.parse(output.trim().split('\n').pop()!) as GeneratorResult;
}

/** Fails early when a wallet limit could stop a sender; otherwise says why none can. */
async function limitsNote(http: HttpClient, sender: BenchUser, fundMinor: number): Promise<string> {
  const { limits } = await http.json('GET', '/api/v1/wallet/balance', [200], { token: sender.token });
  const minor = (v: number) => Math.round(v * 100);
  const room = Math.min(minor(limits.daily_limit) - minor(limits.daily_used), minor(limits.monthly_limit) - minor(limits.monthly_used));
  if (AMOUNT_MINOR > minor(limits.transaction_limit) || fundMinor > room) {
    throw new Error(`a sender funded with ${decimal(fundMinor)} ${CURRENCY} could reach its limits ${JSON.stringify(limits)}: raise WALLET_DAILY_LIMIT / WALLET_MONTHLY_LIMIT`);
  }
  return (
    `wallet limits (defaults): per transfer ${limits.transaction_limit}, daily ${limits.daily_limit}, monthly ${limits.monthly_limit} ${limits.currency}; ` +
    `each sender gets ${decimal(fundMinor)} and can send no more than that, so no limit is reached. There is no count-per-day limit, ` +
    'so no configuration was changed. The pending cap (P2P_MAX_PENDING_PER_SENDER) binds only a sender with that many failed confirms.'
  );
}

class Benchmark {
  readonly reports: ScenarioReport[] = [];
  readonly notes: string[] = [];
  private limitsChecked = false;
  /** Scenarios run so far: part of every user id, so a client count given twice still gets fresh users. */
  private runs = 0;

  constructor(
    private readonly config: BenchConfig,
    private readonly runId: string,
    private readonly system: RunningSystem,
    private readonly http: HttpClient,
    private readonly prepare: Preparer,
  ) {}

  /** Funding per sender: more than a client could send in a warm-up, a window and a drain. */
  get fundMinor(): number {
    return AMOUNT_MINOR * MAX_TRANSFERS_PER_CLIENT_SECOND * Math.ceil(this.config.warmupSeconds + this.config.seconds + DRAIN_SECONDS);
  }

  private plan(scenario: string, workload: Workload): GeneratorPlan {
    const { system, config } = this;
    return { scenario, runId: this.runId, baseUrl: system.baseUrl, warmupSeconds: config.warmupSeconds, seconds: config.seconds, launcherPid: system.launcherPid, external: system.external, workload };
  }

  private async record(name: string, clients: number, run: () => Promise<GeneratorResult | string>): Promise<void> {
    let report: ScenarioReport;
    try {
      const outcome = await run();
      report = typeof outcome === 'string' ? { name, clients, skipped: outcome } : { name, clients, result: outcome, cpuMsPerOp: cpuPerOp(outcome) };
    } catch (err) {
      report = { name, clients, failed: err instanceof Error ? err.message : String(err) };
    }
    this.reports.push(report);
    const r = report.result;
    console.log(
      r
        ? `  ${name} x${clients}: ${r.ops} ops, ${r.errors} errors, ${r.opsPerSecond.toFixed(1)}/s, p99 ${r.latency?.p99 ?? '-'} ms` +
            (r.errorSamples.length > 0 ? `\n    first errors: ${r.errorSamples.map((e) => `${e.step} ${e.status} ${e.body}`).join('\n                  ')}` : '')
        : `  ${name} x${clients}: ${report.skipped ? `skipped (${report.skipped})` : `FAILED: ${report.failed}`}`,
    );
    await sleep(SETTLE_MS);
  }

  async p2p(name: string, clients: number, method: ProofMaterial['method']): Promise<void> {
    await this.record(name, clients, async () => {
      const pairs = await p2pPairs(this.prepare, { prefix: `bench_${this.runId}_${(this.runs += 1)}_${name}_${clients}`, count: clients, method, fundMinor: this.fundMinor });
      if (!this.limitsChecked) {
        this.notes.push(await limitsNote(this.http, pairs[0]!.sender, this.fundMinor));
        this.limitsChecked = true;
      }
      const result = await runGenerator(this.plan(name, { kind: 'p2p', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, clients: pairs.map((p) => p.plan) }));
      result.settled?.forEach((n, i) => this.prepare.settle(pairs[i]!.sender, pairs[i]!.recipient, n, AMOUNT_MINOR));
      if (result.drainTimedOut) this.notes.push(`${name} x${clients}: operations were still running after the window; the balance check may miss some`);
      return result;
    });
  }

  async get(name: string, urlPath: string, tokens: () => Promise<string[]>): Promise<void> {
    const connections = this.config.connections;
    await this.record(name, connections, async () => {
      const probe = await this.http.request('GET', urlPath);
      if (probe.status === 404) return `GET ${urlPath} answers 404`;
      return runGenerator(this.plan(name, { kind: 'get', path: urlPath, connections, tokens: await tokens() }));
    });
  }

  async topUp(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const users = await mapLimit(Array.from({ length: clients }, (_, i) => i), 8, (i) => this.prepare.user(`@bench_${this.runId}_${(this.runs += 1)}_topup_${i}:localhost`, 0));
      const result = await runGenerator(this.plan(name, { kind: 'topup', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, clients: users.map((u) => ({ token: u.token })) }));
      result.settled?.forEach((n, i) => this.prepare.credit(users[i]!, n, AMOUNT_MINOR));
      return result;
    });
  }

  async withdrawal(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const owners = await mapLimit(Array.from({ length: clients }, (_, i) => i), 8, async (i) => {
        const user = await this.prepare.user(`@bench_${this.runId}_${(this.runs += 1)}_out_${i}:localhost`, this.fundMinor);
        const proof = await this.prepare.enrol(user, 'biometric');
        if (proof.method !== 'biometric') throw new Error('a withdrawing user needs a device key');
        const linked = await this.http.json('POST', '/api/v1/wallet/external-accounts', [201], {
          token: user.messenger,
          json: { type: 'bank_account', token: `tok_sim_${String(i).padStart(8, '0')}`, currency: CURRENCY, idempotency_key: 'bench-bank' },
        });
        return { user, plan: { messengerToken: user.messenger, deviceId: proof.deviceId, privateKeyPem: proof.privateKeyPem, externalAccountId: linked.external_account_id as string } };
      });
      const result = await runGenerator(this.plan(name, { kind: 'withdrawal', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, clients: owners.map((o) => o.plan) }));
      result.settled?.forEach((n, i) => this.prepare.pay(owners[i]!.user, n, AMOUNT_MINOR));
      return result;
    });
  }

  async payment(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const payers = await mapLimit(Array.from({ length: clients }, (_, i) => i), 8, async (i) => {
        const user = await this.prepare.user(`@bench_${this.runId}_${(this.runs += 1)}_payer_${i}:localhost`, this.fundMinor);
        const proof = await this.prepare.enrol(user, 'biometric');
        if (proof.method !== 'biometric') throw new Error('a payer needs a device key');
        return { user, plan: { token: user.token, deviceId: proof.deviceId, privateKeyPem: proof.privateKeyPem } };
      });
      const result = await runGenerator(this.plan(name, { kind: 'payment', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, clients: payers.map((p) => p.plan) }));
      result.settled?.forEach((n, i) => this.prepare.pay(payers[i]!.user, n, AMOUNT_MINOR));
      return result;
    });
  }

  async paymentCancel(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const payers = await mapLimit(Array.from({ length: clients }, (_, i) => i), 8, (i) => this.prepare.user(`@bench_${this.runId}_${(this.runs += 1)}_canceller_${i}:localhost`, this.fundMinor));
      return runGenerator(this.plan(name, { kind: 'payment-cancel', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, clients: payers.map((u) => ({ token: u.token })) }));
    });
  }

  async gift(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const pairs = await mapLimit(Array.from({ length: clients }, (_, i) => i), 8, async (i) => {
        const prefix = `bench_${this.runId}_${(this.runs += 1)}_gift_${i}`;
        const sender = await this.prepare.user(`@${prefix}_s:localhost`, this.fundMinor);
        const opener = await this.prepare.user(`@${prefix}_o:localhost`, 0);
        const proof = await this.prepare.enrol(sender, 'biometric');
        if (proof.method !== 'biometric') throw new Error('a sender needs a device key');
        return { sender, opener, plan: { senderToken: sender.token, deviceId: proof.deviceId, privateKeyPem: proof.privateKeyPem, openerToken: opener.token } };
      });
      const result = await runGenerator(this.plan(name, { kind: 'gift', amount: decimal(AMOUNT_MINOR), currency: CURRENCY, roomId: '!bench:localhost', clients: pairs.map((p) => p.plan) }));
      result.settled?.forEach((n, i) => this.prepare.settle(pairs[i]!.sender, pairs[i]!.opener, n, AMOUNT_MINOR));
      return result;
    });
  }

  /** GIFT_BURST_OPENERS users open one GIFT_BURST_SHARES-share gift at once: exactly GIFT_BURST_SHARES are paid. */
  async giftBurst(name: string): Promise<void> {
    await this.record(name, GIFT_BURST_OPENERS, async () => {
      const prefix = `bench_${this.runId}_${(this.runs += 1)}_burst`;
      const sender = await this.prepare.user(`@${prefix}_s:localhost`, GIFT_BURST_TOTAL_MINOR);
      const proof = await this.prepare.enrol(sender, 'biometric');
      if (proof.method !== 'biometric') throw new Error('a sender needs a device key');
      const openers = await mapLimit(Array.from({ length: GIFT_BURST_OPENERS }, (_, i) => i), 8, (i) => this.prepare.user(`@${prefix}_o${i}:localhost`, 0));
      const total = decimal(GIFT_BURST_TOTAL_MINOR);
      const idempotencyKey = `${prefix}-gift`;
      const roomId = '!burst:localhost';
      const timestamp = new Date().toISOString();
      const message = giftProofMessage({ type: 'group', roomId, count: GIFT_BURST_SHARES, distribution: 'random', total, currency: CURRENCY, idempotencyKey }, timestamp);
      const signature = sign('sha256', Buffer.from(message), { key: createPrivateKey(proof.privateKeyPem), dsaEncoding: 'ieee-p1363' }).toString('base64');
      const created = await this.http.json('POST', '/api/v1/wallet/gift/create', [201], {
        token: sender.token,
        json: { type: 'group', room_id: roomId, total_amount: total, currency: CURRENCY, count: GIFT_BURST_SHARES, idempotency_key: idempotencyKey, auth_proof: { method: 'biometric', proof: { signature, device_id: proof.deviceId, timestamp } } },
      });
      const giftId = created.gift_id as string;
      this.prepare.pay(sender, 1, GIFT_BURST_TOTAL_MINOR);
      // One socket per opener, opened before the burst, so the burst is 200 requests at once and not 200 connects.
      const burst = httpClient(this.system.baseUrl, GIFT_BURST_OPENERS);
      try {
        await Promise.all(openers.map(() => burst.request('GET', '/health')));
        const before = cpuSnapshot(this.system.launcherPid, this.system.external);
        const fired = performance.now();
        const answers = await Promise.all(
          openers.map(async (opener) => {
            const answer = await burst.request('POST', `/api/v1/wallet/gift/${giftId}/open`, { token: opener.token, json: {} });
            return { opener, answer, ms: performance.now() - fired };
          }),
        );
        const windowSeconds = (performance.now() - fired) / 1000;
        const after = cpuSnapshot(this.system.launcherPid, this.system.external);
        const paid = answers.filter((a) => a.answer.status === 200);
        const empty = answers.filter((a) => a.answer.status === 409 && a.answer.body.includes('GIFT_EMPTY'));
        for (const { opener, answer } of paid) this.prepare.credit(opener, 1, Math.round((JSON.parse(answer.body) as { amount_received: number }).amount_received * 100));
        const slowest = Math.max(...answers.map((a) => a.ms));
        this.notes.push(
          `${name}: ${GIFT_BURST_OPENERS} openers of a ${GIFT_BURST_SHARES}-share gift at once: ${paid.length} paid, ${empty.length} told it is empty, ` +
            `${answers.length - paid.length - empty.length} other answers; slowest answer ${slowest.toFixed(0)} ms (${slowest <= 2000 ? 'within' : 'NOT within'} 2 s)`,
        );
        if (paid.length !== GIFT_BURST_SHARES || empty.length !== GIFT_BURST_OPENERS - GIFT_BURST_SHARES) {
          const others = new Map<string, number>();
          for (const { answer } of answers.filter((a) => !paid.includes(a) && !empty.includes(a))) {
            const key = `${answer.status} ${answer.body.slice(0, 160)}`.replace(/"(request_id|timestamp)":"[^"]*"/g, '');
            others.set(key, (others.get(key) ?? 0) + 1);
          }
          throw new Error(
            `${paid.length} openers paid and ${empty.length} told it is empty, not ${GIFT_BURST_SHARES} and ${GIFT_BURST_OPENERS - GIFT_BURST_SHARES}; ` +
              `other answers: ${[...others].map(([k, n]) => `${n} x ${k}`).join('; ')}`,
          );
        }
        const result: GeneratorResult = {
          scenario: name,
          clients: GIFT_BURST_OPENERS,
          ops: answers.length,
          errors: 0,
          errorsOutsideWindow: 0,
          errorSamples: [],
          windowSeconds,
          opsPerSecond: answers.length / windowSeconds,
          latency: summarize(answers.map((a) => a.ms)),
          cpu: { ticksPerSecond: clockTicksPerSecond(), delta: cpuDelta(before, after) },
          drainTimedOut: false,
        };
        return result;
      } finally {
        burst.close();
      }
    });
  }

  async form(name: string, urlPath: string, form: Record<string, string>): Promise<void> {
    const connections = this.config.connections;
    await this.record(name, connections, () => runGenerator(this.plan(name, { kind: 'form', path: urlPath, connections, form })));
  }

  /** Sessions as a grant records them (one per client, each for a user with a wallet), then the refresh load. */
  async refresh(name: string, clients: number): Promise<void> {
    await this.record(name, clients, async () => {
      const users = await Promise.all(Array.from({ length: clients }, (_, i) => this.prepare.user(`@bench_${this.runId}_refresh_${i}:localhost`, 0)));
      const refreshTokens = await seedSessions(this.system, BENCH_CLIENT_ID, users);
      return runGenerator(this.plan(name, { kind: 'refresh', clientId: BENCH_CLIENT_ID, refreshTokens }));
    });
  }

  async put(name: string, urlPath: string, tokens: () => Promise<string[]>): Promise<void> {
    const connections = this.config.connections;
    await this.record(name, connections, async () => runGenerator(this.plan(name, { kind: 'put', path: urlPath, connections, tokens: await tokens(), json: { value: STORAGE_VALUE } })));
  }

  /** Users of ma_demo with the storage scopes, each holding the value the storage scenarios read and replace. */
  async storageUsers(): Promise<string[]> {
    this.storageTokens ??= await Promise.all(
      Array.from({ length: this.config.readers }, async (_, i) => {
        const token = await this.prepare.storageToken(`@bench_${this.runId}_storage_${i}:localhost`);
        await this.http.json('PUT', '/api/v1/storage/bench%2Fprofile', [200], { token, json: { value: STORAGE_VALUE } });
        return token;
      }),
    );
    return this.storageTokens;
  }

  private storageTokens: string[] | undefined;

  /** The read scenarios' users, made once. */
  async readers(): Promise<string[]> {
    this.readerTokens ??= (await Promise.all(Array.from({ length: this.config.readers }, (_, i) => this.prepare.user(`@bench_${this.runId}_reader_${i}:localhost`, 1000)))).map((u) => u.token);
    return this.readerTokens;
  }

  private readerTokens: string[] | undefined;

  /** A wallet with a funding entry and HISTORY_TRANSFERS sent transfers: more than one page of history. */
  async historyHolder(): Promise<string[]> {
    const holder = await this.prepare.user(`@bench_${this.runId}_history:localhost`, 10_000);
    const peer = await this.prepare.user(`@bench_${this.runId}_history_peer:localhost`, 0);
    const client = { senderToken: holder.token, recipientUserId: peer.userId, proof: await this.prepare.enrol(holder, 'biometric') };
    const prove = prover(client.proof);
    for (let i = 0; i < HISTORY_TRANSFERS; i += 1) {
      const outcome = await settleTransfer(this.http, client, prove, { amount: decimal(AMOUNT_MINOR), currency: CURRENCY, idempotencyKey: `bench-${this.runId}-history-${i}` });
      if (!outcome.settled) throw new Error(`a transfer for the history failed: ${JSON.stringify(outcome.failure)}`);
      this.prepare.settle(holder, peer, 1, AMOUNT_MINOR);
    }
    return [holder.token];
  }

  /** EXPLAIN ANALYZE of the hot queries on the grown ledger (growth scenario). */
  plans: Record<string, string> | undefined;

  /**
   * The same work on the ledger as it is and after `growLedger` added config.growth's entries and
   * wallets: P2P at 16 clients, GET balance, and the first and the 50th page of a history of
   * GROWTH_HISTORY entries. Rows are named <scenario>.empty and <scenario>.grown.
   */
  async growth(): Promise<void> {
    // Funded through the API first: that makes the funding account the bulk entries draw on.
    const holder = await this.prepare.user(`@bench_${this.runId}_pages:localhost`, 1);
    await bulkHistory(this.system.databaseUrl, holder.walletId, GROWTH_HISTORY);
    this.prepare.credit(holder, GROWTH_HISTORY, 1);
    const pages = async () => [holder.token];
    const round = async (phase: 'empty' | 'grown') => {
      await this.p2p(`p2p-device.${phase}`, 16, 'biometric');
      await this.get(`balance.${phase}`, '/api/v1/wallet/balance', () => this.readers());
      await this.get(`transactions.${phase}`, '/api/v1/wallet/transactions?limit=50', pages);
      await this.get(`transactions-page50.${phase}`, `/api/v1/wallet/transactions?limit=50&offset=${49 * 50}`, pages);
    };
    await settleDatabase(this.system.databaseUrl);
    await round('empty');
    const { entries, wallets } = this.config.growth;
    console.log(`growth: writing ${entries} journal entries over ${wallets} wallets in bulk`);
    const grown = await growLedger(this.system.databaseUrl, { entries, wallets });
    this.notes.push(`growth: ${entries} journal entries over ${wallets} wallets written in ${grown.seconds.toFixed(0)} s; the ledger then held ${grown.journalEntries} entries`);
    await round('grown');
    this.plans = await explainHotQueries(this.system.databaseUrl, { userId: holder.userId, walletId: holder.walletId });
  }

  async runAll(): Promise<void> {
    const { config } = this;
    for (const scenario of config.scenarios) {
      if (scenario === 'floor') await this.record(scenario, config.floorClients, () => runGenerator(this.plan(scenario, { kind: 'floor', temporalAddress: this.system.temporalAddress, clients: config.floorClients })));
      if (scenario === 'p2p-device') for (const clients of config.clients) await this.p2p(scenario, clients, 'biometric');
      if (scenario === 'p2p-pin') await this.p2p(scenario, config.pinClients, 'pin');
      if (scenario === 'payment') await this.payment(scenario, config.paymentClients);
      if (scenario === 'payment-cancel') await this.paymentCancel(scenario, config.paymentClients);
      if (scenario === 'gift') await this.gift(scenario, config.paymentClients);
      if (scenario === 'gift-burst') await this.giftBurst(scenario);
      if (scenario === 'topup') await this.topUp(scenario, config.paymentClients);
      if (scenario === 'withdrawal') await this.withdrawal(scenario, config.paymentClients);
      if (scenario === 'balance') await this.get(scenario, '/api/v1/wallet/balance', () => this.readers());
      if (scenario === 'storage-get') await this.get(scenario, '/api/v1/storage/bench%2Fprofile', () => this.storageUsers());
      if (scenario === 'storage-put') await this.put(scenario, '/api/v1/storage/bench%2Fprofile', () => this.storageUsers());
      if (scenario === 'transactions') await this.get(scenario, '/api/v1/wallet/transactions', () => this.historyHolder());
      if (scenario === 'device-authorization') await this.form(scenario, '/api/v1/oauth2/device/authorization', { client_id: BENCH_CLIENT_ID, scope: 'wallet:balance' });
      if (scenario === 'refresh') await this.refresh(scenario, Math.max(...config.clients));
      if (scenario === 'health') await this.get(scenario, '/health', async () => []);
      if (scenario === 'ready') await this.get(scenario, '/ready', async () => []);
      if (scenario === 'growth') await this.growth();
    }
  }
}

function machine() {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
}

function describeTree(system: RunningSystem): string {
  const { roles } = launcherTree(system.launcherPid);
  return Object.entries(roles)
    .map(([role, pids]) => `${role} ${pids.length === 0 ? (system.external[role as 'postgres' | 'temporal'] ? 'external' : 'NOT FOUND') : `${pids[0]}${pids.length > 1 ? ` (+${pids.length - 1})` : ''}`}`)
    .join(', ');
}

/** GET balance on a fresh system of its own (booted with `env`), nothing else run on it. */
async function balanceAlone(config: BenchConfig, runId: string, name: string, env: Record<string, string>): Promise<ScenarioReport> {
  const system = await bootSystem({ logLevel: config.logLevel, env });
  const http = httpClient(system.baseUrl, 16);
  try {
    const prepare = await preparer({ http, adminToken: system.adminToken, tepKeysFile: system.tepKeysFile, issuer: system.issuer });
    const bench = new Benchmark(config, `${runId}_${name}`, system, http, prepare);
    await bench.get(name, '/api/v1/wallet/balance', () => bench.readers());
    return bench.reports[0]!;
  } finally {
    http.close();
    await system.stop();
  }
}

/**
 * The limiter's cost: GET balance on two fresh systems booted alike, one with the limiter on (limits
 * raised as for the load) and one with it off (RATE_LIMIT_SCALE=0), so nothing run before (a warmer
 * database, a JIT-compiled path) favours either; the note gives the difference in CPU per request.
 */
async function limiterCost(config: BenchConfig, runId: string): Promise<{ reports: ScenarioReport[]; note: string }> {
  console.log('rate limiter cost: GET balance on two fresh systems, limiter on and off');
  let on: ScenarioReport;
  let off: ScenarioReport;
  try {
    on = await balanceAlone(config, runId, 'balance-limiter-on', {});
    off = await balanceAlone(config, runId, 'balance-limiter-off', { RATE_LIMIT_SCALE: '0' });
  } catch (err) {
    return { reports: [], note: `rate limiter cost: not measured (${err instanceof Error ? err.message : String(err)})` };
  }
  const a = on.cpuMsPerOp;
  const b = off.cpuMsPerOp;
  if (!a || !b || !on.result || !off.result) return { reports: [on, off], note: 'rate limiter cost: not measured (a balance run failed)' };
  // Two systems differ by some hundredths of a millisecond run to run: a difference under zero is that noise, not a saving.
  const diff = (c: 'api' | 'postgres' | 'total') =>
    a[c] === null || b[c] === null
      ? 'n/a'
      : `${a[c]!.toFixed(3)} - ${b[c]!.toFixed(3)} = ${(a[c]! - b[c]!).toFixed(3)} ms${a[c]! < b[c]! ? ' (under the noise between two systems)' : ''}`;
  return {
    reports: [on, off],
    note:
      `rate limiter cost on GET balance (limiter on minus off, CPU per request): API ${diff('api')}, PostgreSQL ${diff('postgres')}, all processes ${diff('total')}; ` +
      `throughput ${on.result.opsPerSecond.toFixed(0)}/s on, ${off.result.opsPerSecond.toFixed(0)}/s off`,
  };
}

async function main(): Promise<number> {
  const config = benchConfig(process.env);
  const runId = Date.now().toString(36);
  const startedAt = new Date();
  const facts = machine();
  console.log(`load benchmark ${runId}: ${config.scenarios.join(', ')}; ${config.seconds} s per scenario after ${config.warmupSeconds} s warm-up`);
  console.log(`machine: ${facts.nproc} cores (${facts.cpuModel}), Node ${facts.node}`);

  const system = await bootSystem({ logLevel: config.logLevel });
  const processes = describeTree(system);
  const { settings } = system;
  console.log(
    `system running in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s: ${processes}; ` +
      `LOG_LEVEL ${settings.logLevel}${config.logLevel ? '' : ' (launcher default)'}, API_PROCESSES ${settings.apiProcesses}, DATABASE_POOL_SIZE ${settings.databasePoolSize}, ` +
      `RATE_LIMIT_SCALE ${settings.rateLimitScale} (every rate limit raised ${settings.rateLimitScale}x for the load; buckets in ${settings.rateLimitStore})`,
  );

  const http = httpClient(system.baseUrl, 16);
  let bench: Benchmark | undefined;
  let fatal: string | undefined;
  let verification: { balances: BalanceCheck; ledger: LedgerCheck } | undefined;
  try {
    const prepare = await preparer({ http, adminToken: system.adminToken, tepKeysFile: system.tepKeysFile, issuer: system.issuer });
    bench = new Benchmark(config, runId, system, http, prepare);
    await bench.runAll();
    verification = { balances: await checkBalances(http, [...prepare.wallets.values()]), ledger: await checkLedger(system.databaseUrl) };
  } catch (err) {
    fatal = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`benchmark stopped: ${fatal}\nlast lines of the system's log:\n${system.logTail()}`);
  } finally {
    http.close();
    const code = await system.stop();
    console.log(`system stopped (launcher exit code ${code})`);
  }

  const reports = bench?.reports ?? [];
  const notes = bench?.notes ?? [];
  if (fatal === undefined && config.limiterCost && config.scenarios.includes('balance')) {
    const cost = await limiterCost(config, runId);
    reports.push(...cost.reports);
    notes.push(cost.note);
  }
  refuseImpossible(reports);
  const finishedAt = new Date();
  const floorRate = reports.find((r) => r.name === 'floor')?.result?.opsPerSecond;
  const points: P2PPoint[] = reports
    .filter((r) => r.name === 'p2p-device' && r.result?.latency)
    .map((r) => ({ clients: r.clients, settledPerSecond: r.result!.opsPerSecond, p99Ms: r.result!.latency!.p99 }));
  let plot: string | undefined;
  if (points.length > 0) {
    const subtitle = `${startedAt.toISOString().slice(0, 10)}, ${facts.nproc} cores (${facts.cpuModel}), ${config.seconds} s per point after ${config.warmupSeconds} s warm-up, Node ${facts.node}`;
    const warning = await plotP2P(PLOT_FILE, points, subtitle, floorRate);
    if (warning) notes.push(warning);
    plot = path.relative(PROJECT_ROOT, PLOT_FILE);
  }

  const resultsFile = path.join(PROJECT_ROOT, 'bench-results', `load-${startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  await mkdir(path.dirname(resultsFile), { recursive: true });
  const durationSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  await writeFile(
    resultsFile,
    `${JSON.stringify(
      {
        runId,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationSeconds,
        machine: facts,
        config: { ...config, amount: `${decimal(AMOUNT_MINOR)} ${CURRENCY}`, fundPerSender: bench ? `${decimal(bench.fundMinor)} ${CURRENCY}` : undefined },
        system: { ...settings, external: system.external, processes },
        notes,
        scenarios: reports,
        verification,
        fatal,
        plot,
        plans: bench?.plans,
      },
      null,
      2,
    )}\n`,
  );

  console.log(`\n${resultsTable(reports)}\n`);
  if (reports.some((r) => r.result?.confirmLatency)) console.log(`${confirmTable(reports)}\n`);
  const ratios = ratiosTable(reports);
  if (ratios) console.log(`${ratios}\n`);
  const growth = growthTable(reports);
  if (growth) console.log(`${growth}\n`);
  for (const [name, plan] of Object.entries(bench?.plans ?? {})) console.log(`EXPLAIN ANALYZE, grown ledger: ${name}\n${plan}\n`);
  for (const note of notes) console.log(`note: ${note}`);
  if (verification) {
    const { balances, ledger } = verification;
    console.log(
      balances.ok
        ? `balances: all ${balances.wallets} wallets hold what the completed transfers imply`
        : `balances: ${balances.mismatches.length} of ${balances.wallets} wallets differ (minor units):\n${balances.mismatches
            .slice(0, 10)
            .map((m) => `  ${m.label} ${m.walletId}: expected ${m.expected}, available ${m.available}, pending ${m.pending}`)
            .join('\n')}`,
    );
    console.log(
      `ledger: ${ledger.ok ? 'sums to zero' : 'DOES NOT sum to zero'} per currency (balances ${JSON.stringify(ledger.balanceTotals)}, ` +
        `postings ${JSON.stringify(ledger.postingTotals)}, accounts off their postings: ${ledger.accountsOffTheirPostings})`,
    );
  }
  console.log(`results: ${path.relative(PROJECT_ROOT, resultsFile)}${plot ? `; plot: ${plot}` : ''}; run took ${durationSeconds.toFixed(0)} s`);

  const failed = fatal !== undefined || reports.some((r) => r.failed || r.refused) || !verification?.balances.ok || !verification?.ledger.ok;
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
