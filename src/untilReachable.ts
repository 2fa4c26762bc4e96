import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger';

/** Between tries to reach a server at start: doubling from the first to the last. */
const REACH_RETRY_MS = { first: 250, max: 5000 };

export interface ReachOptions {
  /** Errors that mean the server is not there yet (worth waiting for); any other is thrown at once. */
  unreachable: (err: unknown) => boolean;
  /** Given, each refused try is logged here and tried again; without it the first error is thrown. */
  log?: Logger;
  /** The log line of a refused try, and what it names (never a credential). */
  message: string;
  fields: Record<string, unknown>;
}

/**
 * Runs a process's first contact with a server until the server is there: a process may start
 * before its PostgreSQL or Temporal, or while one restarts, and should wait rather than exit.
 */
export async function untilReachable<T>(attempt: () => Promise<T>, options: ReachOptions): Promise<T> {
  for (let waitMs = REACH_RETRY_MS.first; ; waitMs = Math.min(waitMs * 2, REACH_RETRY_MS.max)) {
    try {
      return await attempt();
    } catch (err) {
      if (!options.log || !options.unreachable(err)) throw err;
      options.log.warn({ ...options.fields, retry_in_ms: waitMs, err }, options.message);
      await sleep(waitMs);
    }
  }
}
