import proxyaddr from 'proxy-addr';
import { isCurrency, MAX_MINOR_AMOUNT, type Currency } from '../domain/money';
import { isRateCategory, RATE_LIMIT_DEFAULTS, type RateCategory, type RateLimit } from '../domain/rateLimits';

/**
 * `USD:100000,JPY:150000`: an amount in minor units per currency (minor units, so one setting
 * means the same in every currency's precision). Throws naming the bad entry.
 */
export function parseAmountsByCurrency(text: string): Partial<Record<Currency, bigint>> {
  const thresholds: Partial<Record<Currency, bigint>> = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Z]{3}):(\d{1,16})$/.exec(entry);
    if (!match) throw new Error(`'${entry}' is not CUR:minor_units`);
    const [, currency = '', minor = ''] = match;
    if (!isCurrency(currency)) throw new Error(`'${currency}' is not a supported currency`);
    if (thresholds[currency] !== undefined) throw new Error(`${currency} is listed twice`);
    const amount = BigInt(minor);
    if (amount > MAX_MINOR_AMOUNT) throw new Error(`${currency} threshold is larger than any amount`);
    thresholds[currency] = amount;
  }
  return thresholds;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** One duration: `30s`, `15m`, `1h` or `2d`. */
export function parseDuration(text: string): number {
  const durations = parseDurations(text);
  if (durations.length !== 1) throw new Error(`'${text}' is not one duration such as 24h`);
  return durations[0]!;
}

/** `15m,1h,24h`: one or more durations in seconds, minutes, hours or days. */
export function parseDurations(text: string): number[] {
  const durations = text
    .split(',')
    .map((e) => e.trim())
    .map((entry) => {
      const match = /^(\d{1,6})([smhd])$/.exec(entry);
      if (!match || Number(match[1]) === 0) throw new Error(`'${entry}' is not a duration such as 30s, 15m, 1h or 2d`);
      return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    });
  if (durations.length === 0) throw new Error('at least one duration');
  return durations;
}

/** TRUST_PROXY: how many proxies stand in front of the API, or which addresses they have. */
export type TrustProxy = { hops: number } | { addresses: string[] } | undefined;

/** `2` (hops) or `10.0.0.0/8,loopback` (addresses, CIDRs, or proxy-addr's names loopback, linklocal, uniquelocal). */
export function parseTrustProxy(text: string): TrustProxy {
  const value = text.trim();
  if (value === '' || value === '0') return undefined;
  if (/^\d+$/.test(value)) return { hops: Number(value) };
  const addresses = value.split(',').map((v) => v.trim()).filter(Boolean);
  proxyaddr.compile(addresses); // throws naming a bad entry
  return { addresses };
}

/**
 * RATE_LIMITS: `balance=600/1m/100,token=20/1m/5`, per category a limit per window and a burst
 * (PROTO 11.4.1's columns), over the defaults; then every limit and burst is multiplied by `scale`
 * (RATE_LIMIT_SCALE, for load tests). Throws naming the bad entry.
 */
export function parseRateLimits(text: string, scale: number): Record<RateCategory, RateLimit> {
  const limits: Record<string, RateLimit> = { ...RATE_LIMIT_DEFAULTS };
  const seen = new Set<string>();
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([a-z0-9_]+)=(\d{1,9})\/(\w+)\/(\d{1,9})$/.exec(entry);
    if (!match) throw new Error(`'${entry}' is not category=limit/window/burst`);
    const [, category = '', limit = '', window = '', burst = ''] = match;
    if (!isRateCategory(category)) throw new Error(`'${category}' is not a rate-limit category (${Object.keys(RATE_LIMIT_DEFAULTS).join(', ')})`);
    if (seen.has(category)) throw new Error(`${category} is listed twice`);
    seen.add(category);
    if (Number(limit) === 0) throw new Error(`${category}: the limit must be at least 1`);
    limits[category] = { limit: Number(limit), windowMs: parseDuration(window), burst: Number(burst) };
  }
  for (const [category, limit] of Object.entries(limits)) {
    limits[category] = { limit: Math.max(1, Math.round(limit.limit * scale)), windowMs: limit.windowMs, burst: Math.round(limit.burst * scale) };
  }
  return limits as Record<RateCategory, RateLimit>;
}
