import type { GeneratorResult } from './plan';
import { ROLES, type Role } from './processes';

/** The processes shown per scenario; `total` is their sum (the launcher's own share, `other`, is in the JSON only). */
export const CPU_COLUMNS = ['api', 'worker', 'temporal', 'postgres', 'generator'] as const;
export type CpuColumn = (typeof CPU_COLUMNS)[number] | 'other' | 'total';

export interface ScenarioReport {
  name: string;
  clients: number;
  /** Why it did not run (e.g. /ready answers 404), or why it failed. */
  skipped?: string;
  failed?: string;
  /** Measured, but impossible against the floor of the same run (see refuseImpossible): not to be published. */
  refused?: string;
  result?: GeneratorResult;
  /** CPU milliseconds per successful operation; null where unknown (an external process) or nothing succeeded. */
  cpuMsPerOp?: Record<CpuColumn, number | null>;
}

export function cpuPerOp(result: GeneratorResult): Record<CpuColumn, number | null> {
  const { ticksPerSecond, delta } = result.cpu;
  const perOp = (ticks: number | null) => (ticks === null || result.ops === 0 ? null : (ticks * 1000) / ticksPerSecond / result.ops);
  const ticks: Record<Role | 'generator', number | null> = { ...delta.roles, generator: delta.generator };
  const known = CPU_COLUMNS.map((c) => ticks[c]).filter((t): t is number => t !== null);
  return {
    ...(Object.fromEntries(ROLES.map((r) => [r, perOp(ticks[r])])) as Record<Role, number | null>),
    generator: perOp(ticks.generator),
    total: perOp(known.reduce((sum, t) => sum + t, 0)),
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const cpu = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v < 1 ? v.toFixed(3) : v.toFixed(2));

/** One row per scenario: counts, throughput, latency of successful operations (ms), CPU ms per operation. */
export function resultsTable(reports: ScenarioReport[]): string {
  const header = ['scenario', 'clients', 'ops', 'errors', 'ops/s', 'p50', 'p95', 'p99', 'max', ...CPU_COLUMNS.map((c) => `${c === 'generator' ? 'gen' : c === 'postgres' ? 'pg' : c}`), 'total'];
  const rows = reports.map((r) => {
    if (!r.result) return [r.name, String(r.clients), r.skipped ? 'skipped' : 'FAILED', ...header.slice(3).map(() => '-')];
    const { result } = r;
    return [
      r.name,
      String(result.clients),
      String(result.ops),
      String(result.errors),
      result.opsPerSecond.toFixed(1),
      ms(result.latency?.p50),
      ms(result.latency?.p95),
      ms(result.latency?.p99),
      ms(result.latency?.max),
      ...CPU_COLUMNS.map((c) => cpu(r.cpuMsPerOp?.[c])),
      cpu(r.cpuMsPerOp?.total),
    ];
  });
  const notes = [
    ...reports.filter((r) => !r.result).map((r) => `${r.name} (${r.clients}): ${r.skipped ?? `failed: ${r.failed}`}`),
    ...reports.filter((r) => r.refused).map((r) => `${r.name} (${r.clients}): REFUSED, ${r.refused}`),
  ];
  return [table(header, rows), 'latency in ms (successful operations); CPU columns in ms per operation (n/a: not measured here)', ...notes].join('\n');
}

/** P2P only: the confirm request alone, beside the whole transfer above. */
export function confirmTable(reports: ScenarioReport[]): string {
  const rows = reports
    .filter((r) => r.result?.confirmLatency)
    .map((r) => {
      const c = r.result!.confirmLatency!;
      return [r.name, String(r.result!.clients), ms(c.p50), ms(c.p95), ms(c.p99), ms(c.max)];
    });
  return table(['confirm only', 'clients', 'p50', 'p95', 'p99', 'max'], rows);
}

/** Scenarios of which every operation runs at least one workflow from start to completion. */
export const SAGA_SCENARIOS = ['p2p-device', 'p2p-pin', 'payment', 'payment-cancel', 'gift', 'topup', 'withdrawal'] as const;
/** Scenarios that start workflows: the floor runs with them. */
export const WORKFLOW_SCENARIOS = [...SAGA_SCENARIOS, 'device-authorization'] as const;
/** Reads reported beside GET /health of the same run. */
export const READ_SCENARIOS = ['balance', 'transactions', 'storage-get'] as const;

/** The CPU per operation of some processes together; null when one of them was not measured. */
function cpuOf(cpu: Record<CpuColumn, number | null> | undefined, columns: readonly CpuColumn[]): number | null {
  if (!cpu) return null;
  const parts = columns.map((c) => cpu[c]);
  return parts.some((p) => p === null) ? null : parts.reduce<number>((sum, p) => sum + p!, 0);
}

/** The system's own CPU per operation: everything but the load generator and the launcher. */
const systemCpu = (cpu: Record<CpuColumn, number | null> | undefined) => cpuOf(cpu, ['api', 'worker', 'temporal', 'postgres']);

/**
 * The floor's CPU per workflow: the Temporal server's, plus the client and worker that ran in the
 * generator (an empty workflow touches neither the API nor PostgreSQL).
 */
function floorCpu(floor: ScenarioReport): { temporal: number | null; total: number | null } {
  const cpu = floor.cpuMsPerOp;
  const temporal = cpu?.temporal ?? null;
  return { temporal, total: temporal === null || cpu?.generator === null || cpu?.generator === undefined ? null : temporal + cpu.generator };
}

/**
 * A saga row may show the server's CPU a little under the floor's: a P2P saga asks of the server
 * what the empty workflow does (an Update-with-Start, one task, completion; its ledger steps are
 * local activities), and two windows of one run differ by some percent. Further under than this is
 * not noise.
 */
const FLOOR_TOLERANCE = 0.8;

/**
 * Refuses (marks `refused`) every saga row whose Temporal server CPU per operation is clearly under
 * the floor's per empty workflow (below FLOOR_TOLERANCE of it): a saga is at least one workflow, so
 * such a row counted something else (two operations per saga, a window that missed the server's
 * work, a faster machine than the floor's).
 */
export function refuseImpossible(reports: ScenarioReport[]): void {
  const floor = reports.find((r) => r.name === 'floor' && r.result);
  const floorTemporal = floor ? floorCpu(floor).temporal : null;
  if (floorTemporal === null) return;
  for (const r of reports) {
    const temporal = r.cpuMsPerOp?.temporal;
    if (!(SAGA_SCENARIOS as readonly string[]).includes(baseName(r.name)) || temporal === null || temporal === undefined) continue;
    if (temporal < FLOOR_TOLERANCE * floorTemporal) {
      r.refused = `impossible: the Temporal server spent ${temporal.toFixed(1)} ms per ${r.name} operation, under ${FLOOR_TOLERANCE} x the ${floorTemporal.toFixed(1)} ms it spends on an empty workflow in this run`;
    }
  }
}

/** Each saga against the floor of the same run, and each read against GET /health of the same run. */
export function ratiosTable(reports: ScenarioReport[]): string | undefined {
  const lines: string[] = [];
  const floor = reports.find((r) => r.name === 'floor' && r.result);
  if (floor) {
    const base = floorCpu(floor);
    const rate = floor.result!.opsPerSecond;
    const rows = reports
      .filter((r) => r.result && (WORKFLOW_SCENARIOS as readonly string[]).includes(baseName(r.name)))
      .map((r) => {
        const own = systemCpu(r.cpuMsPerOp);
        return [
          r.name,
          String(r.clients),
          r.result!.opsPerSecond.toFixed(1),
          (r.result!.opsPerSecond / rate).toFixed(2),
          cpu(own),
          own === null || base.total === null ? 'n/a' : `${own - base.total >= 0 ? '+' : ''}${(own - base.total).toFixed(1)}`,
          cpu(r.cpuMsPerOp?.temporal),
          r.cpuMsPerOp?.temporal === null || r.cpuMsPerOp?.temporal === undefined || base.temporal === null ? 'n/a' : (r.cpuMsPerOp.temporal / base.temporal).toFixed(2),
          r.refused ? 'REFUSED' : '',
        ];
      });
    lines.push(
      `floor of this run: ${rate.toFixed(1)} empty workflows/s at ${floor.clients} clients; CPU per workflow: Temporal server ${cpu(base.temporal)} ms, ` +
        `client and worker ${cpu(floor.cpuMsPerOp?.generator)} ms, together ${cpu(base.total)} ms`,
      table(['against the floor', 'clients', 'ops/s', 'x floor rate', 'system CPU/op', 'minus floor', 'temporal', 'x floor temporal', ''], rows),
      'system CPU: API + worker + Temporal server + PostgreSQL, ms per operation; device-authorization starts a workflow per operation but does not finish it',
    );
  }
  const health = reports.find((r) => r.name === 'health' && r.result);
  const reads = reports.filter((r) => r.result && [...READ_SCENARIOS, 'transactions-page50'].includes(baseName(r.name)));
  if (health && reads.length > 0) {
    const rate = health.result!.opsPerSecond;
    lines.push(
      table(
        ['against GET /health', 'connections', 'ops/s', 'x /health', 'p99', 'system CPU/op'],
        reads.map((r) => [r.name, String(r.clients), r.result!.opsPerSecond.toFixed(0), (r.result!.opsPerSecond / rate).toFixed(2), ms(r.result!.latency?.p99), cpu(systemCpu(r.cpuMsPerOp) ?? r.cpuMsPerOp?.api)]),
      ),
      `GET /health in this run: ${rate.toFixed(0)}/s`,
    );
  }
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/** A scenario's kind without its phase (`p2p-device.grown` is a p2p-device row). */
export const baseName = (name: string) => name.split('.')[0]!;

/** CPU per operation of the processes whose work does not depend on what the ledger holds. */
const ledgerFreeCpu = (cpu: Record<CpuColumn, number | null> | undefined) => cpuOf(cpu, ['api', 'worker', 'temporal']);

/**
 * The growth scenario: each measure on the grown ledger against the same on the ledger before it
 * grew. Two windows of one run differ by up to ~30% on this machine whatever the ledger holds
 * (docs/performance.md), and a probe in another window does not see it. So the drift is read in
 * the same window: the API, the worker and the Temporal server do the same work per operation
 * whatever the ledger holds (only PostgreSQL's can grow with it), so their CPU ratio between the
 * rounds is the machine's. Within 10% is judged with that drift taken out; the raw ratios stand beside.
 */
export function growthTable(reports: ScenarioReport[]): string | undefined {
  const rows = reports
    .filter((r) => r.name.endsWith('.empty') && r.result)
    .flatMap((empty) => {
      const grown = reports.find((r) => r.name === empty.name.replace(/\.empty$/, '.grown') && r.result);
      if (!grown) return [];
      const [a, b] = [systemCpu(empty.cpuMsPerOp), systemCpu(grown.cpuMsPerOp)];
      const [freeA, freeB] = [ledgerFreeCpu(empty.cpuMsPerOp), ledgerFreeCpu(grown.cpuMsPerOp)];
      const [pgA, pgB] = [empty.cpuMsPerOp?.postgres ?? null, grown.cpuMsPerOp?.postgres ?? null];
      const cpuRatio = a === null || b === null ? null : b / a;
      const drift = freeA === null || freeB === null || freeA === 0 ? null : freeB / freeA;
      const adjusted = cpuRatio === null || drift === null ? null : cpuRatio / drift;
      const rateRatio = grown.result!.opsPerSecond / empty.result!.opsPerSecond;
      const within = adjusted !== null && drift !== null && adjusted <= 1.1 && rateRatio * drift >= 1 / 1.1;
      return [[
        baseName(empty.name),
        `${empty.result!.opsPerSecond.toFixed(1)} / ${grown.result!.opsPerSecond.toFixed(1)}`,
        rateRatio.toFixed(2),
        `${ms(empty.result!.latency?.p99)} / ${ms(grown.result!.latency?.p99)}`,
        `${cpu(a)} / ${cpu(b)}`,
        cpuRatio === null ? 'n/a' : cpuRatio.toFixed(2),
        `${cpu(pgA)} / ${cpu(pgB)}`,
        drift === null ? 'n/a' : drift.toFixed(2),
        adjusted === null ? 'n/a' : adjusted.toFixed(2),
        within ? 'yes' : 'NO',
      ]];
    });
  if (rows.length === 0) return undefined;
  return [
    table(['empty / grown ledger', 'ops/s', 'rate ratio', 'p99 ms', 'system CPU/op', 'CPU ratio', 'PostgreSQL CPU/op', 'drift', 'CPU ratio / drift', 'within 10%'], rows),
    'system CPU: API + worker + Temporal server + PostgreSQL, ms per operation; drift: the CPU ratio of API + worker + Temporal (their work does not grow',
    'with the ledger: the machine\'s speed between the two windows); within 10%: CPU ratio / drift at most 1.1 and rate ratio x drift at least 1/1.1',
  ].join('\n');
}
