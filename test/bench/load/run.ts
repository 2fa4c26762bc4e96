import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { httpClient } from './httpClient';
import type { GeneratorPlan, GeneratorResult, Workload } from './plan';
import { plotP2P } from './plot';
import { ROLES, type Role } from './processes';
import { bootSystem, PROJECT_ROOT, type RunningSystem } from './system';
import { p2pPairs, preparer, type BenchUser, type Preparer } from './users';
import { checkBalances, checkLedger } from './verify';

/**
 * `npm run bench:load`: boots the system as `npm start` does (or on DATABASE_URL / TEMPORAL_ADDRESS),
 * then runs each scenario in a load generator process of its own, on loopback, for a bounded time.
 *
 *   BENCH_SECONDS=20          timed window per scenario (after BENCH_WARMUP_SECONDS=3 not counted)
 *   BENCH_CLIENTS=1,4,16,32,64  closed-loop clients of the P2P scenarios
 *   BENCH_SCENARIOS=p2p,balance  only scenarios whose name starts with one of these
 *   BENCH_LOG_LEVEL=warn      the system's LOG_LEVEL (default: the launcher's, info)
 *   BENCH_PLOT=docs/bench-load-p2p.png  where the plot goes ('' for none)
 *
 * Prints a table, writes bench-results/load-<time>.json, plots throughput and p99 against clients,
 * and checks afterwards that every balance is what the answers imply and the ledger sums to zero.
 */

const AMOUNT_MINOR = 1;
const FUND_MINOR = 1_000_000; // 10,000.00 USD: far more than a run can send at one cent a transfer
const GET_CONNECTIONS = 64;

interface Scenario {
  name: string;
  clients: number;
  prepare(): Promise<Workload | undefined>;
  /** P2P: the pairs, to book what the generator settled. */
  pairs?: { sender: BenchUser; recipient: BenchUser }[];
}

interface ScenarioResult extends GeneratorResult {
  cpuMsPerOp: Record<Role | 'generator' | 'total', number | null>;
}

const env = (name: string, fallback: string) => process.env[name]?.trim() || fallback;

function scenarios(prepare: Preparer, system: RunningSystem, clientCounts: number[]): Scenario[] {
  const list: Scenario[] = [];
  const historyTokens: string[] = [];
  const p2p = (method: 'biometric' | 'pin', clients: number): Scenario => {
    const scenario: Scenario = {
      name: `p2p-${method === 'biometric' ? 'device' : 'pin'}`,
      clients,
      async prepare() {
        const pairs = await p2pPairs(prepare, { prefix: `${method}${clients}_${randomBytes(3).toString('hex')}`, count: clients, method, fundMinor: FUND_MINOR });
        scenario.pairs = pairs;
        if (historyTokens.length === 0) historyTokens.push(...pairs.slice(0, 8).map((p) => p.sender.token));
        return { kind: 'p2p', amount: '0.01', currency: 'USD', clients: pairs.map((p) => p.plan) };
      },
    };
    return scenario;
  };
  for (const clients of clientCounts) list.push(p2p('biometric', clients));
  list.push(p2p('pin', 16));

  const readers: BenchUser[] = [];
  const balanceTokens = async () => {
    if (readers.length === 0) readers.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => prepare.user(`@reader${i}_${randomBytes(3).toString('hex')}:localhost`, 10_000)))));
    return readers.map((u) => u.token);
  };
  list.push({
    name: 'balance',
    clients: GET_CONNECTIONS,
    prepare: async () => ({ kind: 'get', path: '/api/v1/wallet/balance', connections: GET_CONNECTIONS, tokens: await balanceTokens() }),
  });
  list.push({
    name: 'transactions',
    clients: GET_CONNECTIONS,
    // Senders of the first P2P scenario have a history of hundreds of transfers; else readers with a funding entry.
    prepare: async () => ({ kind: 'get', path: '/api/v1/wallet/transactions?limit=20', connections: GET_CONNECTIONS, tokens: historyTokens.length > 0 ? historyTokens : await balanceTokens() }),
  });
  list.push({ name: 'health', clients: GET_CONNECTIONS, prepare: async () => ({ kind: 'get', path: '/health', connections: GET_CONNECTIONS, tokens: [] }) });
  list.push({
    name: 'ready',
    clients: GET_CONNECTIONS,
    async prepare() {
      const answer = await fetch(`${system.baseUrl}/ready`);
      return answer.status === 404 ? undefined : { kind: 'get', path: '/ready', connections: GET_CONNECTIONS, tokens: [] };
    },
  });
  return list;
}

/** Runs one generator process with `plan` on its stdin and answers what it printed. */
function runGenerator(plan: GeneratorPlan): Promise<GeneratorResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/load/generator.ts'], { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`generator for ${plan.scenario} exited with ${code}`));
      try {
        resolve(JSON.parse(out) as GeneratorResult);
      } catch {
        reject(new Error(`generator for ${plan.scenario} printed no result: ${out.slice(0, 500)}`));
      }
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

function cpuPerOp(result: GeneratorResult): ScenarioResult['cpuMsPerOp'] {
  const ms = (ticks: number | null) => (ticks === null || result.ops === 0 ? null : (ticks * 1000) / result.cpu.ticksPerSecond / result.ops);
  const perRole = Object.fromEntries(ROLES.map((role) => [role, ms(result.cpu.delta.roles[role])])) as Record<Role, number | null>;
  const known = ROLES.map((role) => perRole[role]).filter((v): v is number => v !== null);
  return { ...perRole, generator: ms(result.cpu.delta.generator), total: known.length > 0 ? known.reduce((a, b) => a + b, 0) : null };
}

function printTable(results: ScenarioResult[]): void {
  const num = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '-' : v.toFixed(digits));
  const header = ['scenario', 'clients', 'ops', 'errors', 'ops/s', 'p50', 'p95', 'p99', 'max', 'confirm p99', 'cpu ms/op: api', 'worker', 'temporal', 'postgres', 'other', 'total', 'generator'];
  const rows = results.map((r) => [
    r.scenario,
    String(r.clients),
    String(r.ops),
    String(r.errors),
    num(r.opsPerSecond),
    num(r.latency?.p50),
    num(r.latency?.p95),
    num(r.latency?.p99),
    num(r.latency?.max),
    num(r.confirmLatency?.p99),
    num(r.cpuMsPerOp.api, 2),
    num(r.cpuMsPerOp.worker, 2),
    num(r.cpuMsPerOp.temporal, 2),
    num(r.cpuMsPerOp.postgres, 2),
    num(r.cpuMsPerOp.other, 2),
    num(r.cpuMsPerOp.total, 2),
    num(r.cpuMsPerOp.generator, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\nlatency in ms (P2P: the whole transfer, initiate + confirm); CPU in ms per operation\n${line(header)}`);
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const seconds = Number(env('BENCH_SECONDS', '20'));
  const warmupSeconds = Number(env('BENCH_WARMUP_SECONDS', '3'));
  const clientCounts = env('BENCH_CLIENTS', '1,4,16,32,64').split(',').map(Number);
  const only = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim()).filter(Boolean);
  const plotFile = process.env.BENCH_PLOT ?? path.join('docs', 'bench-load-p2p.png');
  if (!(seconds > 0) || !(warmupSeconds >= 0) || clientCounts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error('BENCH_SECONDS > 0, BENCH_WARMUP_SECONDS >= 0 and BENCH_CLIENTS a list of positive integers');
  }

  const startedAt = new Date();
  console.log(`booting the system as npm start does (${process.env.DATABASE_URL ? 'external PostgreSQL' : 'embedded PostgreSQL'}, ${process.env.TEMPORAL_ADDRESS ? 'external Temporal' : 'Temporal dev server'})`);
  const system = await bootSystem({ logLevel: process.env.BENCH_LOG_LEVEL });
  const http = httpClient(system.baseUrl, 16);
  const results: ScenarioResult[] = [];
  let failed = false;
  try {
    const prepare = await preparer({ http, adminToken: system.adminToken, tepKeysFile: system.tepKeysFile, issuer: system.issuer });
    const runId = randomBytes(4).toString('hex');
    for (const scenario of scenarios(prepare, system, clientCounts)) {
      if (only && !only.some((prefix) => scenario.name.startsWith(prefix))) continue;
      const workload = await scenario.prepare();
      if (!workload) {
        console.log(`${scenario.name}: skipped (the API has no such route)`);
        continue;
      }
      process.stdout.write(`${scenario.name} at ${scenario.clients} clients: ${warmupSeconds} s warm-up, ${seconds} s measured ... `);
      const result = await runGenerator({
        scenario: scenario.name,
        runId,
        baseUrl: system.baseUrl,
        warmupSeconds,
        seconds,
        launcherPid: system.launcherPid,
        external: system.external,
        workload,
      });
      scenario.pairs?.forEach((pair, i) => prepare.settle(pair.sender, pair.recipient, result.settled?.[i] ?? 0, AMOUNT_MINOR));
      const withCpu = { ...result, cpuMsPerOp: cpuPerOp(result) };
      results.push(withCpu);
      console.log(`${result.opsPerSecond.toFixed(1)} ops/s, p99 ${result.latency?.p99 ?? '-'} ms, ${result.errors} errors`);
      for (const sample of result.errorSamples) console.log(`  error at ${sample.step}: ${sample.status} ${sample.body}`);
      if (result.errors > 0 || result.drainTimedOut) failed = true;
    }

    const balances = await checkBalances(http, [...prepare.wallets.values()]);
    const ledger = await checkLedger(system.databaseUrl);
    const unconfirmed = results.reduce((sum, r) => sum + (r.unconfirmed ?? 0), 0);
    console.log(`\nbalances: ${balances.ok ? 'every one of' : 'MISMATCH in'} ${balances.ok ? balances.wallets : balances.mismatches.length} wallets ${balances.ok ? 'is what the answers imply' : `of ${balances.wallets}`}${unconfirmed > 0 ? ` (${unconfirmed} transfers had no completed answer)` : ''}`);
    for (const m of balances.mismatches.slice(0, 10)) console.log(`  ${m.label}: expected ${m.expected}, available ${m.available}, pending ${m.pending} (minor units)`);
    console.log(`ledger: balances sum to ${JSON.stringify(ledger.balanceTotals)}, postings to ${JSON.stringify(ledger.postingTotals)}, ${ledger.accountsOffTheirPostings} accounts off their postings`);
    if (!balances.ok || !ledger.ok) failed = true;

    printTable(results);
    const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
    const config = { seconds, warmupSeconds, clientCounts, logLevel: process.env.BENCH_LOG_LEVEL ?? 'launcher default', external: system.external, apiProcesses: process.env.API_PROCESSES ?? '1' };
    await mkdir(path.join(PROJECT_ROOT, 'bench-results'), { recursive: true });
    const file = path.join(PROJECT_ROOT, 'bench-results', `load-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify({ startedAt, machine, config, results, checks: { balances, ledger } }, null, 2)}\n`);
    console.log(`\nresults: ${path.relative(PROJECT_ROOT, file)}`);

    const points = results
      .filter((r) => r.scenario === 'p2p-device' && r.latency)
      .map((r) => ({ clients: r.clients, settledPerSecond: r.opsPerSecond, p99Ms: r.latency!.p99 }));
    if (plotFile && points.length > 1) {
      const warning = await plotP2P(path.resolve(PROJECT_ROOT, plotFile), points, `${machine.cpus} cores, ${machine.cpu}, ${seconds} s per point, ${startedAt.toISOString().slice(0, 10)}`);
      console.log(`plot: ${plotFile}${warning ? ` (${warning})` : ''}`);
    }
  } finally {
    http.close();
    const code = await system.stop();
    if (code !== 0 && code !== null) console.log(`the launcher exited with ${code}:\n${system.logTail(20)}`);
    await rm(system.dataDir, { recursive: true, force: true });
  }
  if (failed) {
    console.log('FAILED: errors, an unfinished drain, or a check that does not hold (see above)');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
