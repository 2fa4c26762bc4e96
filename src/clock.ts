import type { IdKind } from './domain/ids';
import { newId } from './ids';

/**
 * The time and the new ids a service uses, given to it as a dependency (as activities get `now`),
 * so a test can fix the clock and a reader sees where both come from.
 */
export interface Clock {
  now(): Date;
  newId(kind: IdKind): string;
}

export const systemClock: Clock = { now: () => new Date(), newId };
