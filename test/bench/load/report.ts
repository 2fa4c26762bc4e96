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
  const notes = reports.filter((r) => !r.result).map((r) => `${r.name} (${r.clients}): ${r.skipped ?? `failed: ${r.failed}`}`);
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
