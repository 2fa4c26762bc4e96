/**
 * How failed proofs lock a method (PIN, TOTP, device signature), per user and method and per
 * mini-app the proofs came through (ARCHITECTURE: lockouts are scoped to who caused them). Every
 * attempt is counted before it is checked; the attempt that reaches `threshold` locks the method for
 * that app for `scheduleMs[0]`. The count does not start over when a lock ends: each further
 * failure locks again, for the next, longer, period (the last repeats). Only a correct proof resets
 * it. Across apps, `wallet` counts the failures of a method within `windowMs`; at `threshold` the
 * method is locked for every app for `windowMs` (PROTO 11.4.5: 50 failed payment attempts in 24 h).
 */
export interface LockoutPolicy {
  threshold: number;
  scheduleMs: readonly number[];
  wallet: { threshold: number; windowMs: number };
}

/** The scope of the user's own messenger (a Matrix session or a first-party client): changes of factors. */
export const MESSENGER_SCOPE = 'messenger';
/** Proofs of transfers and gifts made before their app was recorded. */
export const UNKNOWN_SCOPE = 'unknown';
