import { sql } from 'slonik';
import { z } from 'zod';
import { postgresBuckets, redisBuckets, type BucketStore } from '../../src/abuse/buckets';
import { purgeFullBuckets } from '../../src/db/rateLimits';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { startRedis } from '../helpers/redis';

/** The two stores of rate-limit buckets keep the same token bucket (PROTO 11.4.2), atomically. */
let db: TestDatabase;
let redis: Awaited<ReturnType<typeof startRedis>>;
const stores: Record<string, BucketStore> = {};

beforeAll(async () => {
  db = await freshDatabase();
  redis = await startRedis();
  stores.postgres = postgresBuckets(db.pool);
  stores.redis = redisBuckets(redis.url);
});
afterAll(async () => {
  await stores.redis?.close();
  await redis.stop();
  await db.close();
});

let n = 0;
const key = () => `test:${n++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['postgres', 'redis'])('%s buckets', (name) => {
  const store = () => stores[name]!;

  test('a bucket holds its capacity, then refuses, then refills at its rate', async () => {
    const k = key();
    const takes = [];
    for (let i = 0; i < 4; i += 1) takes.push(await store().take(k, 3, 10));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(takes[0]!.tokens).toBeCloseTo(2, 0);
    expect(takes[3]!.tokens).toBeLessThan(1);
    expect(takes[3]!.now).toBeGreaterThan(Date.now() / 1000 - 5);
    // 10 tokens a second: after 250 ms two are back, never more than the capacity.
    await sleep(250);
    expect((await store().take(k, 3, 10)).allowed).toBe(true);
    expect((await store().take(k, 3, 10)).allowed).toBe(true);
    await sleep(1000);
    const full = await store().take(k, 3, 10);
    expect(full.tokens).toBeCloseTo(2, 5);
  });

  test('concurrent takes never hand out more than the bucket holds', async () => {
    const k = key();
    const takes = await Promise.all(Array.from({ length: 60 }, () => store().take(k, 25, 0.001)));
    expect(takes.filter((t) => t.allowed)).toHaveLength(25);
  });

  test('a bucket of capacity 0 refuses at once; a dropped bucket starts full', async () => {
    expect((await store().take(key(), 0, 1)).allowed).toBe(false);
    const k = key();
    await store().take(k, 1, 0.001);
    expect((await store().take(k, 1, 0.001)).allowed).toBe(false);
    await store().drop([k]);
    expect((await store().take(k, 1, 0.001)).allowed).toBe(true);
  });
});

test('PostgreSQL takes that arrive together go in one statement, across keys, and two processes share each bucket', async () => {
  // Two stores are two API processes; each batches what arrives while its statement is in flight.
  const other = postgresBuckets(db.pool);
  const [a, b] = [key(), key()];
  const takes = await Promise.all(
    Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? stores.postgres! : other).take(i % 3 === 0 ? a : b, 30, 0.001).then((t) => ({ key: i % 3 === 0 ? a : b, ...t }))),
  );
  expect(takes.filter((t) => t.key === a && t.allowed)).toHaveLength(30);
  expect(takes.filter((t) => t.key === b && t.allowed)).toHaveLength(30);
  // Every answer's count of tokens left is one the bucket really had: never negative, never above the capacity.
  for (const t of takes) expect(t.tokens >= 0 && t.tokens < 30).toBe(true);
});

test('the sweeper forgets PostgreSQL buckets that are full again, and only those', async () => {
  const full = key();
  const spent = key();
  await stores.postgres!.take(full, 2, 100);
  await stores.postgres!.take(spent, 2, 0.001);
  await sleep(100);
  await purgeFullBuckets(db.pool);
  const left = await db.pool.anyFirst(sql.type(z.object({ key: z.string() }))`SELECT key FROM rate_buckets WHERE key = ANY(${sql.array([full, spent], 'text')})`);
  expect(left).toEqual([spent]);
});
