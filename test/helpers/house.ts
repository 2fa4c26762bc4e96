/**
 * Draws the house: the import graph of src/, activities/ and workflows/ by room (a folder of src,
 * or activities, or workflows), and counts what ARCHITECTURE.md forbids: circles (rooms that import
 * each other at run time, and files that do) and upward arrows (a value import from a lower floor
 * to a higher one). Type-only imports are listed apart: they vanish at run time.
 *
 *   npm run house            # counts, and every circle and upward arrow
 *   npm run house -- --dot   # the room graph in Graphviz's dot
 *
 * test/unit/house.test.ts holds the counts at zero.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Floors, top first: a room may import value code only from its own floor or below. */
const FLOORS: string[][] = [
  ['src/api.ts', 'src/worker.ts', 'src/cli', 'src/dev', 'src/runtime.ts', 'src/sweeps.ts'],
  ['src/http'],
  ['activities'],
  ['src/p2p', 'src/payments', 'src/gifts', 'src/topups', 'src/withdrawals', 'src/merchants', 'src/housekeeping', 'src/wallet', 'src/oauth', 'src/storage', 'src/developers', 'src/miniapps', 'src/matrix', 'src/factors', 'src/abuse', 'src/auth'],
  ['src/ledger'],
  ['src/temporal', 'src/providers', 'workflows'],
  ['src/db'],
  ['src/config', 'src/crypto', 'src/metrics', 'src/telemetry', 'src/ids.ts', 'src/clock.ts', 'src/idempotency.ts', 'src/logger.ts', 'src/untilReachable.ts'],
  ['src/domain'],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'migrations' ? [] : files(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

function roomOf(file: string): string {
  const rel = path.relative(ROOT, file);
  const parts = rel.split(path.sep);
  if (parts[0] !== 'src') return parts[0]!;
  return parts.length === 2 ? rel : `src/${parts[1]}`;
}

const floorOf = (room: string) => FLOORS.findIndex((floor) => floor.includes(room));

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const re = /^(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'(\.[^']+)';/gms;
  for (const m of text.matchAll(re)) {
    const specifiers = m[3] ?? '';
    const braces = /\{([^}]*)\}/.exec(specifiers);
    const allTypes = braces !== null && !/^[^{]*\w[^{]*\{/.test(specifiers) && braces[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    let target = path.resolve(path.dirname(file), m[4]!);
    if (!target.endsWith('.ts')) target = statSafe(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts');
    edges.push({ from: file, to: target, typeOnly: Boolean(m[2]) || allTypes });
  }
  return edges;
}

function statSafe(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Strongly connected components of more than one node (Tarjan). */
function circles(nodes: string[], next: (n: string) => string[]): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

export function drawHouse() {
  const all = ['src', 'activities', 'workflows'].flatMap((d) => files(path.join(ROOT, d)));
  const edges = all.flatMap(importsOf).filter((e) => all.includes(e.to));
  const value = edges.filter((e) => !e.typeOnly);
  const rel = (f: string) => path.relative(ROOT, f);

  const fileCircles = circles(all, (f) => value.filter((e) => e.from === f).map((e) => e.to));
  const roomEdges = new Map<string, { from: string; to: string; typeOnly: boolean }>();
  for (const e of edges) {
    const from = roomOf(e.from);
    const to = roomOf(e.to);
    if (from === to) continue;
    const key = `${from}->${to}`;
    const known = roomEdges.get(key);
    roomEdges.set(key, { from, to, typeOnly: (known?.typeOnly ?? true) && e.typeOnly });
  }
  const rooms = [...new Set(all.map(roomOf))].sort();
  const roomValue = [...roomEdges.values()].filter((e) => !e.typeOnly);
  const roomCircles = circles(rooms, (r) => roomValue.filter((e) => e.from === r).map((e) => e.to));
  const unplaced = rooms.filter((r) => floorOf(r) < 0);
  const upward = [...roomEdges.values()].filter((e) => floorOf(e.from) > floorOf(e.to));
  return { rooms, files: all.length, roomEdges: [...roomEdges.values()], roomCircles, fileCircles: fileCircles.map((c) => c.map(rel)), upward, unplaced };
}

function print(): void {
  const { rooms, files, roomEdges, roomCircles, fileCircles, upward, unplaced } = drawHouse();
  if (process.argv.includes('--dot')) {
    const lines = roomEdges.map((e) => `  "${e.from}" -> "${e.to}"${e.typeOnly ? ' [style=dashed]' : ''}${floorOf(e.from) > floorOf(e.to) ? ' [color=red]' : ''};`);
    process.stdout.write(`digraph house {\n  rankdir=TB;\n${lines.join('\n')}\n}\n`);
  } else {
    const say = (s: string) => process.stdout.write(`${s}\n`);
    say(`rooms: ${rooms.length}, floors: ${FLOORS.length}, files: ${files}, imports between rooms: ${roomEdges.length}`);
    say(`room circles (value imports): ${roomCircles.length}`);
    for (const c of roomCircles) say(`  ${c.join(' <-> ')}`);
    say(`file circles (value imports): ${fileCircles.length}`);
    for (const c of fileCircles) say(`  ${c.join(' <-> ')}`);
    say(`upward arrows: ${upward.filter((e) => !e.typeOnly).length} value, ${upward.filter((e) => e.typeOnly).length} type-only`);
    for (const e of upward) say(`  ${e.from} -> ${e.to}${e.typeOnly ? ' (type-only)' : ''}`);
    if (unplaced.length > 0) say(`rooms on no floor: ${unplaced.join(', ')}`);
  }
}

if (require.main === module) print();
