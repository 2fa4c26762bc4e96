import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/** What every saga shares: the options of its ledger steps and room events, and how it reads and raises domain failures. */

const STEP_RETRY = { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

// Ledger and state writes are short PostgreSQL transactions, run as local activities: inside the
// workflow task, without a round trip through the Temporal server per step. Each is idempotent, so
// the re-run after a worker crash writes nothing twice.
export const LOCAL_STEPS = { startToCloseTimeout: '10 seconds', retry: STEP_RETRY } as const;
/** The same steps as regular activities: for sagas that take many Updates at once (gift openings) and for P2P v1 histories. */
export const REMOTE_STEPS = { startToCloseTimeout: '10 seconds', retry: STEP_RETRY } as const;

// A homeserver that is down is waited for: the event arrives once it is back (for up to a week).
export const ROOM_EVENTS = {
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
} as const;

/** A room event sent as a regular activity, with ROOM_EVENTS' retries (each workflow that sends one declares it). */
export function roomEvents() {
  return proxyActivities<Activities>(ROOM_EVENTS);
}

/**
 * The domain error an activity failed with (its ApplicationFailure), if that is how it failed. A
 * regular activity's failure wraps it in an ActivityFailure; a local activity's arrives as is.
 */
export function domainFailure(err: unknown): ApplicationFailure | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure ? failure : undefined;
}

/** Refuses an Update (or fails it) with a code of the error catalogue, which the API answers as is. */
export function refuse(type: string, message: string, details: Record<string, unknown> = {}): never {
  throw ApplicationFailure.create({ type, message, details: [details], nonRetryable: true });
}

/**
 * One state-changing Update at a time: validators refuse while `busy`; `run` holds it for the
 * handler's body, and an activity's domain failure fails the Update with its code.
 */
export function exclusive() {
  let busy = false;
  return {
    get busy() {
      return busy;
    },
    async run<T>(body: () => Promise<T>): Promise<T> {
      busy = true;
      try {
        return await body();
      } catch (err) {
        throw domainFailure(err) ?? err;
      } finally {
        busy = false;
      }
    },
  };
}
