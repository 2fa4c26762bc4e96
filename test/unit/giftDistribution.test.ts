import { DEFAULT_MAX_PERCENTAGE, DEFAULT_MIN_PERCENTAGE, distributeGift, distributionProblem } from '../../src/domain/giftDistribution';

/** A seeded generator (mulberry32), so a failing case can be run again. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sum = (shares: bigint[]) => shares.reduce((a, b) => a + b, 0n);

/** The whole-unit bounds of a random share, as the function rounds them (inward), or undefined when they hold no whole unit. */
function bounds(total: bigint, count: number, minPct: number, maxPct: number) {
  const scale = 100n * BigInt(count);
  const low = (total * BigInt(minPct) + scale - 1n) / scale;
  const high = (total * BigInt(maxPct)) / scale;
  return low >= 1n && high >= low ? { low, high } : undefined;
}

// Totals in minor units for currencies with 0 (JPY), 2 (USD) and 3 decimals (a dinar): one whole unit up to a large gift.
const CURRENCIES = [
  { decimals: 0, max: 1_000_000 },
  { decimals: 2, max: 100_000_000 },
  { decimals: 3, max: 1_000_000_000 },
];

describe('gift distribution (PROTO 7.5.5)', () => {
  it.each(CURRENCIES)('random shares with $decimals decimals: exact total, each within its bounds, none below one unit (thousands of inputs)', ({ max }) => {
    const random = seeded(7 + max);
    for (let run = 0; run < 3000; run += 1) {
      const count = 1 + Math.floor(random() * 60);
      // Mostly ordinary gifts, some as small as the count allows.
      const total = BigInt(random() < 0.2 ? count + Math.floor(random() * count * 3) : count + Math.floor(random() * max));
      const minPct = run % 3 === 0 ? 5 + Math.floor(random() * 16) : DEFAULT_MIN_PERCENTAGE;
      const maxPct = run % 3 === 0 ? 25 + Math.floor(random() * 26) : DEFAULT_MAX_PERCENTAGE;
      const shares = distributeGift({ totalMinor: total, count, distribution: 'random', minPercentage: minPct, maxPercentage: maxPct }, random);
      expect(shares).toHaveLength(count);
      expect(sum(shares)).toBe(total);
      expect(shares.every((s) => s >= 1n)).toBe(true);
      const b = bounds(total, count, minPct, maxPct);
      // The first count - 1 shares (in some order after the shuffle) lie within the bounds; the last takes the remainder.
      const within = shares.filter((s) => (b ? s >= b.low && s <= b.high : s === 1n)).length;
      expect(within).toBeGreaterThanOrEqual(count - 1);
    }
  });

  it.each(CURRENCIES)('equal shares with $decimals decimals: exact total, the rounding on the first share, none below one unit', ({ max }) => {
    const random = seeded(11 + max);
    for (let run = 0; run < 3000; run += 1) {
      const count = 1 + Math.floor(random() * 60);
      const total = BigInt(count + Math.floor(random() * (random() < 0.3 ? count * 2 : max)));
      const shares = distributeGift({ totalMinor: total, count, distribution: 'equal' }, random);
      expect(sum(shares)).toBe(total);
      expect(shares.every((s) => s >= 1n)).toBe(true);
      const rest = new Set(shares.slice(1).map(String));
      expect(rest.size).toBeLessThanOrEqual(1);
      const base = shares[1] ?? shares[0]!;
      const exact = Number(total) / count;
      expect(Math.abs(Number(base) - exact)).toBeLessThanOrEqual(1);
    }
  });

  it("follows PROTO's equal example and its rounding, and says what it does when rounding up would empty the first share", () => {
    const none = () => 0;
    expect(distributeGift({ totalMinor: 10_000n, count: 3, distribution: 'equal' }, none)).toEqual([3334n, 3333n, 3333n]);
    expect(distributeGift({ totalMinor: 11n, count: 3, distribution: 'equal' }, none)).toEqual([3n, 4n, 4n]);
    // 6 units in 4 shares: 1.5 rounds up to 2, which would leave 0 for the first; the average is rounded down instead.
    expect(distributeGift({ totalMinor: 6n, count: 4, distribution: 'equal' }, none)).toEqual([3n, 1n, 1n, 1n]);
  });

  it('gives one unit to each of the first shares when the bounds hold no whole unit', () => {
    // 5 units in 5 shares: the average is one unit, 30% of it is less than one.
    expect(distributeGift({ totalMinor: 5n, count: 5, distribution: 'random' }, seeded(1))).toEqual([1n, 1n, 1n, 1n, 1n]);
    const shares = distributeGift({ totalMinor: 12n, count: 4, distribution: 'random' }, seeded(2));
    expect(sum(shares)).toBe(12n);
    expect([...shares].sort((a, b) => Number(a - b)).slice(0, 3)).toEqual([1n, 1n, 1n]);
  });

  it('is the same for the same random source (a workflow replay)', () => {
    const input = { totalMinor: 10_000n, count: 10, distribution: 'random' as const };
    expect(distributeGift(input, seeded(42))).toEqual(distributeGift(input, seeded(42)));
  });

  it('refuses what cannot be split', () => {
    expect(distributionProblem(5n, 6)).toMatch(/smallest unit/);
    expect(distributionProblem(5n, 0)).toMatch(/at least 1/);
    expect(() => distributeGift({ totalMinor: 100n, count: 3, distribution: 'random', minPercentage: 2 }, seeded(1))).toThrow(/ranges/);
  });
});
