/**
 * What the rate limiter limits (PROTO 11.4.1): each route names one category; each category is a
 * token bucket per caller (PROTO 11.4.2) holding `limit + burst` tokens and refilling `limit` per
 * `windowMs`. Pure data and arithmetic; the stores that keep buckets live in src/abuse.
 */
export const RATE_LIMIT_DEFAULTS = {
  device_code: { limit: 20, windowMs: 60_000, burst: 5 },
  /** RFC 8628 polling at the 5-second interval is 12 a minute; slow_down answers anything faster. */
  device_poll: { limit: 20, windowMs: 60_000, burst: 5 },
  token: { limit: 10, windowMs: 60_000, burst: 3 },
  token_refresh: { limit: 20, windowMs: 3_600_000, burst: 5 },
  tep_validation: { limit: 1000, windowMs: 60_000, burst: 100 },
  payment_initiation: { limit: 5, windowMs: 60_000, burst: 0 },
  payment_authorization: { limit: 3, windowMs: 60_000, burst: 0 },
  p2p: { limit: 10, windowMs: 3_600_000, burst: 3 },
  balance: { limit: 60, windowMs: 60_000, burst: 10 },
  history: { limit: 30, windowMs: 60_000, burst: 5 },
  resolution: { limit: 100, windowMs: 60_000, burst: 20 },
  storage: { limit: 100, windowMs: 60_000, burst: 20 },
  storage_batch: { limit: 10, windowMs: 60_000, burst: 2 },
  /** PROTO 11.4.1's Mini-App Registry rows, per developer. */
  app_registration: { limit: 5, windowMs: 86_400_000, burst: 0 },
  app_updates: { limit: 10, windowMs: 3_600_000, burst: 0 },
  /** Every other route a user or an address calls (not in PROTO's table; generous). */
  default: { limit: 120, windowMs: 60_000, burst: 30 },
} as const satisfies Record<string, RateLimit>;

export type RateCategory = keyof typeof RATE_LIMIT_DEFAULTS;

export interface RateLimit {
  limit: number;
  windowMs: number;
  burst: number;
}

export function isRateCategory(name: string): name is RateCategory {
  return Object.hasOwn(RATE_LIMIT_DEFAULTS, name);
}

/** The bucket of a limit: capacity `limit + burst`, refilled at `limit / window` tokens a second. */
export function bucketOf(limit: RateLimit): { capacity: number; perSecond: number } {
  return { capacity: limit.limit + limit.burst, perSecond: limit.limit / (limit.windowMs / 1000) };
}

/** PROTO 11.4.4's `window`: "1 minute", "1 hour", "5 minutes". */
export function describeWindow(windowMs: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [ms, name] of units) {
    if (windowMs % ms === 0) {
      const n = windowMs / ms;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${windowMs} milliseconds`;
}

/** One take from a bucket, as a store answers it. */
export interface Take {
  allowed: boolean;
  /** Tokens left after this take (a fraction while refilling). */
  tokens: number;
  /** The store's clock, epoch seconds. */
  now: number;
}

/** What the headers of PROTO 11.4.4 say about a take. */
export function quotaOf(take: Take, limit: RateLimit) {
  const { capacity, perSecond } = bucketOf(limit);
  return {
    remaining: Math.max(0, Math.floor(take.tokens)),
    /** Seconds until the bucket is full again. */
    resetAfter: Math.ceil((capacity - take.tokens) / perSecond),
    /** Seconds until one token is there (PROTO: (1 - tokens) / rate); 0 when there is one now. */
    retryAfter: take.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - take.tokens) / perSecond)),
  };
}

/** The bucket of one category for one subject, and the bucket that counts the subject's violations (11.4.5). */
export const bucketKey = (category: RateCategory, subject: string) => `${category}:${subject}`;
export const violationsKey = (subject: string) => `violations:${subject}`;
