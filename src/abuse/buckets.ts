import { Redis } from 'ioredis';
import { dropBuckets, purgeFullBuckets, takeTokens, type TokenRequest } from '../db/rateLimits';
import type { DatabasePool } from '../db/pool';
import type { Take } from '../domain/rateLimits';

/**
 * Where token buckets live, shared by every API process: PostgreSQL (the default, one statement a
 * take) or Redis (REDIS_URL, one script a take). Both take atomically and by the store's clock.
 */
export interface BucketStore {
  readonly name: 'postgres' | 'redis';
  take(key: string, capacity: number, perSecond: number): Promise<Take>;
  drop(keys: string[]): Promise<void>;
  /** Deletes buckets that are full again (Redis expires them by itself). */
  purge(): Promise<number>;
  close(): Promise<void>;
}

interface Waiting {
  key: string;
  capacity: number;
  perSecond: number;
  resolve(take: Take): void;
  reject(err: unknown): void;
}

/**
 * Buckets in PostgreSQL. One statement is in flight per process at a time; the takes that arrive
 * meanwhile go together in the next one (as a group commit does), so under load a statement serves
 * many requests and its cost is shared, and when idle a take goes at once. Takes of one key in a
 * batch are granted in arrival order.
 */
export function postgresBuckets(pool: DatabasePool): BucketStore {
  let queue: Waiting[] = [];
  let flushing = false;

  async function settle(batch: Waiting[]): Promise<void> {
    const byKey = new Map<string, Waiting[]>();
    for (const w of batch) {
      const list = byKey.get(w.key);
      if (list) list.push(w);
      else byKey.set(w.key, [w]);
    }
    const requests: TokenRequest[] = [...byKey].map(([key, list]) => ({ key, count: list.length, capacity: list[0]!.capacity, perSecond: list[0]!.perSecond }));
    const grants = await takeTokens(pool, requests);
    for (const [key, list] of byKey) {
      const grant = grants.get(key)!;
      // The i-th granted waiter saw the tokens the later ones in this batch took still there.
      list.forEach((w, i) => w.resolve({ allowed: i < grant.granted, tokens: grant.tokens + Math.max(0, grant.granted - 1 - i), now: grant.now }));
    }
  }

  async function flush(): Promise<void> {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      await settle(batch).catch((err: unknown) => batch.forEach((w) => w.reject(err)));
    }
    flushing = false;
  }

  return {
    name: 'postgres',
    take: (key, capacity, perSecond) =>
      new Promise<Take>((resolve, reject) => {
        queue.push({ key, capacity, perSecond, resolve, reject });
        if (!flushing) void flush();
      }),
    drop: (keys) => dropBuckets(pool, keys),
    purge: () => purgeFullBuckets(pool),
    close: async () => undefined,
  };
}

/**
 * The same take as src/db/rateLimits.ts (one token), as a Lua script (Redis runs a script atomically). The
 * key expires when the bucket is full again, so Redis forgets idle callers by itself.
 */
const TAKE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
if state[1] then
  tokens = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return { allowed, tostring(tokens), tostring(now) }
`;

const PREFIX = 'tmcp:rate:';

export function redisBuckets(url: string): BucketStore {
  // Auto-pipelining sends the takes of one tick together, as the PostgreSQL store batches its statements.
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  redis.defineCommand('takeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  const take = (redis as Redis & { takeToken(key: string, capacity: number, perSecond: number): Promise<[number, string, string]> }).takeToken.bind(redis);
  return {
    name: 'redis',
    async take(key, capacity, perSecond) {
      const [allowed, tokens, now] = await take(PREFIX + key, capacity, perSecond);
      return { allowed: allowed === 1, tokens: Number(tokens), now: Number(now) };
    },
    async drop(keys) {
      if (keys.length > 0) await redis.del(...keys.map((k) => PREFIX + k));
    },
    purge: async () => 0,
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export function bucketStore(pool: DatabasePool, redisUrl: string | undefined): BucketStore {
  return redisUrl === undefined ? postgresBuckets(pool) : redisBuckets(redisUrl);
}
