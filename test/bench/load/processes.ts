import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The processes whose CPU each scenario reports; `other` is the launcher and anything it runs besides these. */
export const ROLES = ['api', 'worker', 'temporal', 'postgres', 'other'] as const;
export type Role = (typeof ROLES)[number];

/** CPU ticks per role (null: not measured here, e.g. an external PostgreSQL), and the generator's own. */
export interface CpuSnapshot {
  roles: Record<Role, number | null>;
  generator: number;
}

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime: this process's own CPU. */
  own: number;
  /** cutime + cstime: children that exited and were waited for. */
  reaped: number;
}

/** Clock ticks per second of /proc/<pid>/stat times. */
export function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited since the directory was listed
  }
  // comm is in parentheses and may itself hold spaces or parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5): ppid is field 4, utime..cstime are fields 14..17.
  const num = (field: number) => Number(fields[field - 3]);
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    comm: text.slice(text.indexOf('(') + 1, close),
    ppid: num(4),
    own: num(14) + num(15),
    reaped: num(16) + num(17),
  };
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined);
}

/** Which part of the system a direct child of the launcher is, from its command line. */
function roleOf(stat: ProcStat): Role {
  const args = cmdline(stat.pid);
  if (args.some((a) => a.endsWith('src/api.ts'))) return 'api';
  if (args.some((a) => a.endsWith('src/worker.ts'))) return 'worker';
  if (stat.comm === 'postgres' || path.basename(args[0] ?? '') === 'postgres') return 'postgres';
  if (stat.comm === 'temporal' || path.basename(args[0] ?? '') === 'temporal' || args.includes('start-dev')) return 'temporal';
  return 'other';
}

/** The launcher's process tree: each direct child's role and the pids of its whole subtree. */
export function launcherTree(launcherPid: number): { stats: Map<number, ProcStat>; roles: Record<Role, number[]> } {
  const stats = new Map(allProcesses().map((s) => [s.pid, s]));
  const children = new Map<number, number[]>();
  for (const s of stats.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const subtree = (root: number): number[] => [root, ...(children.get(root) ?? []).flatMap(subtree)];
  const roles: Record<Role, number[]> = { api: [], worker: [], temporal: [], postgres: [], other: [launcherPid] };
  for (const child of children.get(launcherPid) ?? []) roles[roleOf(stats.get(child)!)].push(...subtree(child));
  return { stats, roles };
}

/**
 * CPU ticks per role. Summing own and reaped time over a whole subtree counts every process once:
 * a live one by its own time, one that exited (a PostgreSQL backend, a forked API process) in its
 * parent's reaped time. The launcher itself counts only its own time under `other`.
 */
export function cpuSnapshot(launcherPid: number, external: { postgres: boolean; temporal: boolean }): CpuSnapshot {
  const generator = readStat('self')?.own ?? 0;
  const { stats, roles } = launcherTree(launcherPid);
  const ticks = (pids: number[]) =>
    pids.reduce((sum, pid) => {
      const s = stats.get(pid);
      return s ? sum + s.own + (pid === launcherPid ? 0 : s.reaped) : sum;
    }, 0);
  const measured = (role: Role): number | null => {
    if ((role === 'postgres' && external.postgres) || (role === 'temporal' && external.temporal)) return null;
    return roles[role].length > 0 ? ticks(roles[role]) : null;
  };
  return {
    roles: Object.fromEntries(ROLES.map((role) => [role, measured(role)])) as Record<Role, number | null>,
    generator,
  };
}

/** Role-wise difference of two snapshots (null when either side is unknown). */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const roles = Object.fromEntries(
    ROLES.map((role) => {
      const [b, a] = [before.roles[role], after.roles[role]];
      return [role, a === null || b === null ? null : a - b];
    }),
  ) as Record<Role, number | null>;
  return { roles, generator: after.generator - before.generator };
}
