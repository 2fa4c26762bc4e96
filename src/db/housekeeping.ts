import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

export const HousekeepingRow = z.object({
  job: z.string(),
  paused: z.boolean(),
  last_run_at: z.date().nullable(),
  last_swept: z.number().nullable(),
  last_error: z.string().nullable(),
  runner: z.string().nullable(),
});
export type HousekeepingJob = z.infer<typeof HousekeepingRow>;

/** Every job known, in the order given, created unpaused when new. */
export async function housekeepingJobs(db: DatabaseConnection, names: readonly string[]): Promise<readonly HousekeepingJob[]> {
  await db.query(sql.unsafe`INSERT INTO housekeeping_jobs (job) SELECT unnest(${sql.array(names, 'text')}) ON CONFLICT DO NOTHING`);
  const rows = await db.any(sql.type(HousekeepingRow)`SELECT * FROM housekeeping_jobs WHERE job = ANY (${sql.array(names, 'text')})`);
  return names.map((name) => rows.find((r) => r.job === name)!);
}

export async function recordJobRound(db: DatabaseConnection, job: string, round: { swept?: number; error?: string; runner: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE housekeeping_jobs SET last_run_at = now(), last_swept = ${round.swept ?? null}, last_error = ${round.error ?? null}, runner = ${round.runner}
    WHERE job = ${job}`);
}

/** Pauses or resumes jobs (all of them with `jobs` undefined); answers the jobs changed. */
export async function setJobsPaused(db: DatabaseConnection, paused: boolean, jobs?: readonly string[]): Promise<readonly HousekeepingJob[]> {
  return db.any(sql.type(HousekeepingRow)`
    UPDATE housekeeping_jobs SET paused = ${paused}
    WHERE ${jobs === undefined ? sql.fragment`true` : sql.fragment`job = ANY (${sql.array(jobs, 'text')})`}
    RETURNING *`);
}

export function allHousekeepingJobs(db: DatabaseConnection): Promise<readonly HousekeepingJob[]> {
  return db.any(sql.type(HousekeepingRow)`SELECT * FROM housekeeping_jobs ORDER BY job`);
}
