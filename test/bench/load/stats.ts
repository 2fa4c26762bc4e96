/** Latency percentiles in milliseconds; null when nothing was measured. */
export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Latency | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sorted.reduce((sum, v) => sum + v, 0) / sorted.length),
  };
}
