import { hostname } from 'node:os';
import pg from 'pg';
import type { Clock } from './clock';
import type { Config } from './config';
import type { DatabasePool } from './db/pool';
import { housekeepingJobs, recordJobRound } from './db/housekeeping';
import { purgeOAuthLeftovers } from './db/oauth';
import { purgeFullBuckets } from './db/rateLimits';
import { purgePayoutReports } from './db/withdrawals';
import { purgeExpired } from './db/storage';
import type { Logger } from './logger';
import { sweepStaleGifts } from './gifts/gifts';
import { sweepQueuedInvites } from './matrix/invites';
import { sweepUnstartedWebhooks } from './miniapps/webhookStarter';
import { sweepUnstartedPayments } from './payments/payments';
import { sweepUnannouncedRefunds } from './payments/refunds';
import type { Temporal } from './temporal/client';
import { sweepUnstartedTransfers } from './p2p/saga';
import { sweepUnsentWalletEvents } from './wallet/providerCallbacks';

export interface SweepDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  log: Logger;
  config: Pick<Config, 'p2p' | 'payments' | 'gifts' | 'matrix' | 'sagaAnswerTimeoutMs'>;
}

export interface SweepTimes {
  intervalMs: number;
  /** An invite or webhook event is swept once its after-commit start has had time to happen. */
  inviteGraceMs: number;
  /** A transfer nobody confirmed is swept this long after its authorization window (a margin for clocks). */
  transferGraceMs: number;
}

export const SWEEP_TIMES: SweepTimes = { intervalMs: 15_000, inviteGraceMs: 10_000, transferGraceMs: 5_000 };

/**
 * Starts what should have started (the outbox rule): invite sagas queued by homeserver
 * transactions, webhook deliveries queued with the change they announce, payments whose window
 * ended with no workflow to end them, refunds and wallet-provider payments whose room event did not start, gifts past their expiry
 * with no workflow to end them, storage values past their TTL (deleted; they were never answered), and the P2P sagas of transfers nobody confirmed or cancelled within their window
 * (a saga starts with its first call), which cancel them. Every start is idempotent by workflow id,
 * so several API replicas may sweep at once. One round at a time.
 */
export function startSagaSweeps(deps: SweepDeps, times: SweepTimes = SWEEP_TIMES): { stop(): Promise<void> } {
  const jobs = [
    { name: 'invites', run: () => sweepQueuedInvites(deps, times.inviteGraceMs) },
    { name: 'p2p', run: () => sweepUnstartedTransfers(deps, times.transferGraceMs) },
    { name: 'payments', run: () => sweepUnstartedPayments(deps, times.transferGraceMs) },
    { name: 'refund events', run: () => sweepUnannouncedRefunds(deps, times.inviteGraceMs) },
    { name: 'storage ttl', run: () => purgeExpired(deps.pool, 1000) },
    { name: 'oauth leftovers', run: () => purgeOAuthLeftovers(deps.pool) },
    { name: 'full rate buckets', run: () => purgeFullBuckets(deps.pool) },
    { name: 'payout reports', run: () => purgePayoutReports(deps.pool) },
    { name: 'gifts', run: () => sweepStaleGifts(deps, times.transferGraceMs) },
    { name: 'wallet events', run: () => sweepUnsentWalletEvents(deps, times.inviteGraceMs) },
    { name: 'webhooks', run: () => sweepUnstartedWebhooks(deps, times.inviteGraceMs) },
  ];
  const names = jobs.map((j) => j.name);
  let running: Promise<void> | undefined;
  // Each round reads which jobs an operator paused, runs the others, and records how each went.
  const sweep = async () => {
    let paused = new Set<string>();
    try {
      paused = new Set((await housekeepingJobs(deps.pool, names)).filter((j) => j.paused).map((j) => j.job));
    } catch (err) {
      deps.log.warn({ err }, 'could not read the housekeeping jobs; running them all');
    }
    for (const job of jobs) {
      if (paused.has(job.name)) continue;
      try {
        const swept = await job.run();
        if (swept > 0) deps.log.info({ job: job.name, swept }, 'sweep found work');
        await recordJobRound(deps.pool, job.name, { swept, runner: RUNNER });
      } catch (err) {
        deps.log.warn({ err, job: job.name }, 'sweep failed; next round retries');
        await recordJobRound(deps.pool, job.name, { error: err instanceof Error ? err.message : String(err), runner: RUNNER }).catch(() => undefined);
      }
    }
  };
  const timer = setInterval(() => {
    running ??= sweep().finally(() => (running = undefined));
  }, times.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Who runs a round, for operators: host and process. */
const RUNNER = `${hostname()}:${process.pid}`;

/** The advisory lock whose holder, one process across all API replicas, runs the housekeeping. */
export const HOUSEKEEPING_LOCK = 727_001;

/**
 * Housekeeping once across all replicas: every sweeper process tries to take a PostgreSQL
 * advisory lock on a connection of its own; the one that holds it runs the rounds, the others try
 * again every `retryMs`. A leader whose connection drops (a crash, a network cut) loses the lock
 * with it, and another takes over. Why a lock and not Temporal Schedules: most jobs are the outbox
 * relay that starts sagas a failed start left behind, and they must keep sweeping (and logging)
 * whatever Temporal is doing; the purges are plain SQL. Operators see and pause each job at
 * /api/v1/admin/housekeeping.
 */
export function startHousekeeping(deps: SweepDeps & { databaseUrl: string }, times: SweepTimes & { retryMs: number } = { ...SWEEP_TIMES, retryMs: 15_000 }): { stop(): Promise<void>; leading(): boolean } {
  let stopped = false;
  let client: pg.Client | undefined;
  let sweeps: { stop(): Promise<void> } | undefined;
  let retry: NodeJS.Timeout | undefined;

  const standDown = async () => {
    const was = sweeps;
    sweeps = undefined;
    await was?.stop();
  };
  const later = () => {
    if (!stopped) retry = setTimeout(() => void attempt(), times.retryMs);
    retry?.unref();
  };
  const attempt = async () => {
    const candidate = new pg.Client({ connectionString: deps.databaseUrl, application_name: 'tmcp-housekeeping' });
    candidate.on('error', () => undefined);
    try {
      await candidate.connect();
      const { rows } = await candidate.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1) AS taken', [HOUSEKEEPING_LOCK]);
      if (!rows[0]?.taken || stopped) {
        await candidate.end();
        return later();
      }
    } catch (err) {
      deps.log.warn({ err }, 'could not try for the housekeeping lock; trying again');
      await candidate.end().catch(() => undefined);
      return later();
    }
    client = candidate;
    deps.log.info({ runner: RUNNER }, 'this process runs the housekeeping');
    sweeps = startSagaSweeps(deps, times);
    // The lock lives as long as the connection: when it goes, so does the leadership.
    candidate.once('end', () => {
      if (client !== candidate) return;
      client = undefined;
      deps.log.warn('lost the housekeeping lock with its connection; trying again');
      void standDown().then(later);
    });
  };
  void attempt();
  return {
    leading: () => sweeps !== undefined,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await standDown();
      const holder = client;
      client = undefined;
      await holder?.end().catch(() => undefined);
    },
  };
}
