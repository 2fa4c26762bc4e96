import { Redis } from 'ioredis';
import { dropBuckets, purgeFullBuckets, takeToken } from '../db/rateLimits';
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

export function postgresBuckets(pool: DatabasePool): BucketStore {
  return {
    name: 'postgres',
    take: (key, capacity, perSecond) => takeToken(pool, key, capacity, perSecond),
    drop: (keys) => dropBuckets(pool, keys),
    purge: () => purgeFullBuckets(pool),
    close: async () => undefined,
  };
}

/**
 * The same take as src/db/rateLimits.ts, as a Lua script (Redis runs a script atomically). The
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
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
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
