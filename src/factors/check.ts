import type { DatabasePool } from '../db/pool';
import type { LockoutPolicy } from '../domain/lockout';
import type { AuthProof } from '../domain/p2p';
import type { Sealer } from '../crypto/sealing';

export interface ProofCheck {
  userId: string;
  /** The mini-app the proof came through (or MESSENGER_SCOPE): its failures lock the factor for that app only. */
  scope: string;
  proof: AuthProof;
  /** What a device signs for a biometric proof of this action, with the timestamp it signed. */
  signedMessage(timestamp: string): string;
  /** Names this confirmation attempt: a retried check of the same attempt may reuse its proof. */
  attemptKey: string;
  /** How far a biometric proof's timestamp may be from server time (default BIOMETRIC_SKEW_MS). */
  maxSkewMs?: number;
}

export interface ProofDeps {
  pool: DatabasePool;
  now: () => Date;
  lockout: LockoutPolicy;
  /** Opens the TOTP secrets, kept sealed in PostgreSQL. */
  totpSealer: Sealer;
}

/** Why a proof failed; becomes INVALID_SIGNATURE (signatures) or INVALID_MFA_CREDENTIALS. */
export class ProofRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Checks the proof against the factor it names; throws ProofRejected when it does not match. */
export type Check = () => Promise<void>;
