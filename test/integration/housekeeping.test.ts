import pino from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { systemClock } from '../../src/clock';
import { HOUSEKEEPING_LOCK, SWEEP_TIMES, startHousekeeping } from '../../src/sweeps';
import { ADMIN_TOKEN, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { expectError } from '../helpers/p2p';

/**
 * Housekeeping runs in one process across replicas (the holder of an advisory lock), moves to
 * another when the holder stops or its connection is cut, and operators see and pause its jobs.
 */
let db: TestDatabase;
let api: TestApi;
const runners: ReturnType<typeof startHousekeeping>[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  api = await startTestApi(db);
});
afterAll(async () => {
  for (const r of runners) await r.stop();
  await api?.close();
  await db?.close();
});

function replica() {
  const runner = startHousekeeping(
    { pool: db.pool, clock: systemClock, temporal: api.temporal, log: pino({ level: 'silent' }), config: api.config, databaseUrl: db.url },
    { ...SWEEP_TIMES, intervalMs: 150, retryMs: 150 },
  );
  runners.push(runner);
  return runner;
}

const lastRun = (job: string) =>
  db.pool.maybeOneFirst(sql.type(z.object({ t: z.date().nullable() }))`SELECT last_run_at AS t FROM housekeeping_jobs WHERE job = ${job}`).then((t) => t?.getTime() ?? 0);

test('one of several replicas runs the housekeeping; another takes over when it stops or loses its connection', async () => {
  const [a, b, c] = [replica(), replica(), replica()];
  const leaders = () => [a, b, c].filter((r) => r.leading()).length;
  expect(await eventually(async () => leaders(), (n) => n === 1)).toBe(1);
  // It stays one over many rounds.
  for (let i = 0; i < 5; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(leaders()).toBe(1);
  }
  const first = [a, b, c].find((r) => r.leading())!;
  await first.stop();
  expect(await eventually(async () => leaders(), (n) => n === 1)).toBe(1);

  // A leader whose connection is cut (a crash, a network partition) loses the lock with it.
  const second = [a, b, c].find((r) => r.leading())!;
  await db.pool.query(sql.unsafe`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = ${HOUSEKEEPING_LOCK} AND granted`);
  await eventually(async () => second.leading(), (leading) => !leading);
  expect(await eventually(async () => leaders(), (n) => n === 1)).toBe(1);
  const before = await lastRun('gifts');
  expect(await eventually(() => lastRun('gifts'), (t) => t > before)).toBeGreaterThan(before);
});

test('operators see each job and pause or resume it', async () => {
  if (!runners.some((r) => r.leading())) replica();
  await eventually(() => lastRun('storage ttl'), (t) => t > 0);
  const seen = await api.call('GET', '/api/v1/admin/housekeeping', { token: ADMIN_TOKEN });
  expect(seen.status).toBe(200);
  expect(seen.body.runner).toMatch(/:\d+$/);
  expect(seen.body.jobs.map((j: { job: string }) => j.job)).toEqual(expect.arrayContaining(['invites', 'p2p', 'payments', 'gifts', 'storage ttl', 'webhooks']));

  const paused = await api.call('POST', '/api/v1/admin/housekeeping/pause', { token: ADMIN_TOKEN, body: { jobs: ['gifts'] } });
  expect(paused.body.jobs).toEqual([expect.objectContaining({ job: 'gifts', paused: true })]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const frozen = await lastRun('gifts');
  const other = await lastRun('storage ttl');
  await eventually(() => lastRun('storage ttl'), (t) => t > other + 300);
  expect(await lastRun('gifts')).toBe(frozen);

  await api.call('POST', '/api/v1/admin/housekeeping/resume', { token: ADMIN_TOKEN, body: {} });
  expect(await eventually(() => lastRun('gifts'), (t) => t > frozen)).toBeGreaterThan(frozen);
  expectError(await api.call('POST', '/api/v1/admin/housekeeping/pause', { token: ADMIN_TOKEN, body: { jobs: ['no such job'] } }), 404, 'NOT_FOUND', 'jobs');
  expect((await api.call('GET', '/api/v1/admin/housekeeping', { token: (await api.token('@x:tmcp.test', ['wallet:pay'])) })).status).toBe(401);
});
