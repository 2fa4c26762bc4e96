/**
 * How a gift's total is split into shares (PROTO 7.5.5), in minor units, so every share is a whole
 * number of the currency's smallest unit and the shares add up to the total exactly. Pure and
 * deterministic given `random`: the gift workflow passes its own deterministic random source, so a
 * replay computes the same shares.
 */

export type Distribution = 'equal' | 'random';

export interface DistributionInput {
  totalMinor: bigint;
  count: number;
  distribution: Distribution;
  /** Bounds of the random shares as percentages of the average share (PROTO: 10 and 30 by default). */
  minPercentage?: number;
  maxPercentage?: number;
}

export const DEFAULT_MIN_PERCENTAGE = 10;
export const DEFAULT_MAX_PERCENTAGE = 30;
/** PROTO 7.5.5's allowed ranges of the bounds. */
export const MIN_PERCENTAGE_RANGE = [5, 20] as const;
export const MAX_PERCENTAGE_RANGE = [25, 50] as const;

/** Why an input cannot be split: each share must be at least one minor unit. */
export function distributionProblem(totalMinor: bigint, count: number): string | undefined {
  if (!Number.isInteger(count) || count < 1) return 'count must be a whole number of at least 1';
  if (totalMinor < BigInt(count)) return 'the total must give every share at least the smallest unit of the currency';
  return undefined;
}

/**
 * `equal`: the total over the count rounded half up to the minor unit, the rounding difference on
 * the first share (PROTO 7.5.5). When that difference would take the first share below one minor
 * unit (rounding up a small total, e.g. 6 units in 4 shares: 2,2,2 and 0), the average is rounded
 * down instead and the first share takes the rest (3,1,1,1).
 */
function equalShares(total: bigint, count: number): bigint[] {
  const n = BigInt(count);
  let base = (2n * total + n) / (2n * n); // round half up
  if (total - base * (n - 1n) < 1n) base = total / n;
  const shares = Array.from({ length: count }, () => base);
  shares[0] = total - base * (n - 1n);
  return shares;
}

/** A whole number in [low, high] from `random` (in [0, 1)). */
function pick(low: bigint, high: bigint, random: () => number): bigint {
  const span = Number(high - low + 1n);
  return low + BigInt(Math.min(span - 1, Math.floor(random() * span)));
}

/**
 * `random`: each of the first count - 1 shares between min% and max% of the average (rounded
 * inward to whole minor units), the last share the remainder, then shuffled (PROTO 7.5.5). Where the
 * bounds hold no whole unit (the average is so small that max% of it is below one unit, or the
 * rounded bounds cross), those shares are one unit each, the least a share may be, and the
 * remainder goes to the last as PROTO says.
 */
function randomShares(total: bigint, count: number, minPct: number, maxPct: number, random: () => number): bigint[] {
  const n = BigInt(count);
  const scale = 100n * n;
  let low = (total * BigInt(minPct) + scale - 1n) / scale; // ceil(min% of the average)
  let high = (total * BigInt(maxPct)) / scale; // floor(max% of the average)
  if (low < 1n) low = 1n;
  if (high < low) high = low;
  const shares: bigint[] = [];
  let left = total;
  for (let i = 0; i < count - 1; i += 1) {
    // Never take so much that the shares still to come cannot have one unit each.
    const room = left - BigInt(count - 1 - i);
    const top = high < room ? high : room;
    const share = pick(low < top ? low : top, top, random);
    shares.push(share);
    left -= share;
  }
  shares.push(left);
  // Fisher-Yates: no one can predict a share from the order of opening.
  for (let i = shares.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [shares[i], shares[j]] = [shares[j]!, shares[i]!];
  }
  return shares;
}

export function distributeGift(input: DistributionInput, random: () => number): bigint[] {
  const problem = distributionProblem(input.totalMinor, input.count);
  if (problem) throw new Error(problem);
  if (input.distribution === 'equal') return equalShares(input.totalMinor, input.count);
  const minPct = input.minPercentage ?? DEFAULT_MIN_PERCENTAGE;
  const maxPct = input.maxPercentage ?? DEFAULT_MAX_PERCENTAGE;
  if (minPct < MIN_PERCENTAGE_RANGE[0] || minPct > MIN_PERCENTAGE_RANGE[1] || maxPct < MAX_PERCENTAGE_RANGE[0] || maxPct > MAX_PERCENTAGE_RANGE[1]) {
    throw new Error('percentages out of PROTO 7.5.5 ranges');
  }
  return randomShares(input.totalMinor, input.count, minPct, maxPct, random);
}
