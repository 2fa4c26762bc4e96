import type { Clock } from './clock';
import type { Config } from './config';
import type { DatabasePool } from './db/pool';
import { purgeOAuthLeftovers } from './db/oauth';
import { purgeFullBuckets } from './db/rateLimits';
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
    { name: 'gifts', run: () => sweepStaleGifts(deps, times.transferGraceMs) },
    { name: 'wallet events', run: () => sweepUnsentWalletEvents(deps, times.inviteGraceMs) },
    { name: 'webhooks', run: () => sweepUnstartedWebhooks(deps, times.inviteGraceMs) },
  ];
  let running: Promise<void> | undefined;
  const sweep = async () => {
    for (const job of jobs) {
      try {
        const swept = await job.run();
        if (swept > 0) deps.log.info({ job: job.name, swept }, 'sweep found work');
      } catch (err) {
        deps.log.warn({ err, job: job.name }, 'sweep failed; next round retries');
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
