/**
 * How failed proofs lock a method (PIN, TOTP, device signature), per user and method, across
 * transfers and factor changes. Every attempt is counted before it is checked; the attempt that
 * reaches `threshold` locks the method for `scheduleMs[0]`. The count does not start over when a
 * lock ends: each further failure locks again, for the next, longer, period (the last repeats).
 * Only a correct proof resets it.
 */
export interface LockoutPolicy {
  threshold: number;
  scheduleMs: readonly number[];
}
