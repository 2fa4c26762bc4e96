export interface Summary {
  name: string;
  count: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(name: string, samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    count: sorted.length,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

export function printTable(title: string, rows: readonly Summary[]): void {
  const ms = (v: number) => v.toFixed(1).padStart(8);
  console.log(`\n${title}`);
  console.log(`${'case'.padEnd(48)} ${'median'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  for (const r of rows) console.log(`${r.name.padEnd(48)} ${ms(r.median)} ${ms(r.p90)} ${ms(r.p99)} ${ms(r.max)}`);
}
