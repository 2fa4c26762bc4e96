import { allHousekeepingJobs, setJobsPaused, type HousekeepingJob } from '../db/housekeeping';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';

/** What operators see of the housekeeping (src/sweeps.ts): each job's last round, who ran it, and whether it is paused. */
function jobView(j: HousekeepingJob) {
  return {
    job: j.job,
    paused: j.paused,
    last_run_at: j.last_run_at?.toISOString() ?? null,
    last_swept: j.last_swept,
    last_error: j.last_error,
    runner: j.runner,
  };
}

export async function housekeepingView(pool: DatabasePool) {
  const jobs = await allHousekeepingJobs(pool);
  // The runner of the newest round is the process holding the lock now (or last).
  const newest = [...jobs].filter((j) => j.last_run_at).sort((a, b) => b.last_run_at!.getTime() - a.last_run_at!.getTime())[0];
  return { runner: newest?.runner ?? null, jobs: jobs.map(jobView) };
}

/** Pauses or resumes the named jobs (every job when none is named); a name the housekeeping does not know is 404. */
export async function pauseHousekeeping(pool: DatabasePool, paused: boolean, jobs?: readonly string[]) {
  if (jobs !== undefined) {
    const known = new Set((await allHousekeepingJobs(pool)).map((j) => j.job));
    const unknown = jobs.filter((j) => !known.has(j));
    if (unknown.length > 0) throw new DomainError('NOT_FOUND', 'No such housekeeping job', { field: 'jobs', unknown });
  }
  const changed = await setJobsPaused(pool, paused, jobs);
  return { jobs: changed.map(jobView) };
}
