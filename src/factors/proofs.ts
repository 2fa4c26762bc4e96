import { clearFailures, countAttempt, countWalletFailure } from '../db/mfa';
import { createSealer, type Sealer } from '../crypto/sealing';
import type { DatabaseConnection } from '../db/pool';
import { DomainError } from '../domain/errors';
import type { AuthMethod, AuthProof, SealedProof } from '../domain/p2p';
import { ProofRejected, type Check, type ProofCheck, type ProofDeps } from './check';
import { biometricCheck } from './deviceKeys';
import { locked } from './lockouts';
import { pinCheck } from './pin';
import { otpCheck } from './totp';

export type { ProofCheck, ProofDeps } from './check';

/** The sealer for auth proofs; the API seals, the worker opens, both with DATA_ENCRYPTION_KEY. */
export function proofSealer(dataKey: Buffer): Sealer {
  return createSealer(dataKey, 'auth-proof');
}

/** Sealed for one transfer: a sealed proof cannot be presented for another. */
export function sealProof(sealer: Sealer, transferId: string, proof: AuthProof): SealedProof {
  return { method: proof.method, sealed: sealer.seal(JSON.stringify(proof), transferId) };
}

export function openProof(sealer: Sealer, transferId: string, sealed: SealedProof): AuthProof {
  const proof = JSON.parse(sealer.open(sealed.sealed, transferId)) as AuthProof;
  if (proof.method !== sealed.method) throw new Error('sealed proof does not match its method');
  return proof;
}

/**
 * Checks a payment proof (PROTO 7.2.1, 7.2.4) for one attempt: a transfer's confirmation, a
 * payment, a gift or a change of the user's factors. The factor it names must be set up, and a
 * signature must be one the device's key could have made (length, encoding): neither is a guess.
 * Then the attempt is counted against the app it came through (`scope`) before the (slow) check,
 * so concurrent guesses cannot outrun the lockout. Success resets that app's count; a failure
 * answers 401 with the attempts remaining, or 429 MFA_LOCKED once the method is locked for the app
 * (or, past the wallet-wide threshold of failures across apps, everywhere; see LockoutPolicy).
 */
export async function verifyPaymentProof(deps: ProofDeps, check: ProofCheck): Promise<{ method: AuthMethod }> {
  const outcome = await checkPaymentProof(deps.pool, deps, check);
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
}

/**
 * verifyPaymentProof's checks on `db`, which may be the caller's transaction: a refused proof is
 * answered, not thrown, so the attempt it counted commits with the caller's own writes (a proof
 * and the settlement it authorizes, in one transaction). Input that is not a guess at all (a
 * factor not set up, a malformed signature) is still thrown, before anything is counted.
 */
export async function checkPaymentProof(
  db: DatabaseConnection,
  deps: Omit<ProofDeps, 'pool'>,
  check: ProofCheck,
): Promise<{ method: AuthMethod } | { refused: DomainError }> {
  const { method } = check.proof;
  const now = deps.now();
  const matches = await prepareCheck(db, deps, check, now);
  const attempt = await countAttempt(db, check.userId, method, check.scope, now, deps.lockout);
  if (attempt.refused) return { refused: locked(method, attempt.lockedUntil, now) };
  try {
    await matches();
  } catch (err) {
    if (!(err instanceof ProofRejected)) throw err;
    const walletLock = await countWalletFailure(db, check.userId, method, now, deps.lockout);
    const lock = attempt.lockedUntil ?? walletLock;
    if (lock) return { refused: locked(method, lock, now, err.reason) };
    const code = method === 'biometric' ? 'INVALID_SIGNATURE' : 'INVALID_MFA_CREDENTIALS';
    return {
      refused: new DomainError(code, `The ${method} proof was not accepted: ${err.reason}`, {
        method,
        reason: err.reason,
        attempts_remaining: Math.max(0, deps.lockout.threshold - attempt.failures),
      }),
    };
  }
  await clearFailures(db, check.userId, method, check.scope);
  return { method };
}

/** Loads the factor the proof names and returns its check. */
function prepareCheck(db: DatabaseConnection, deps: Pick<ProofDeps, 'totpSealer'>, check: ProofCheck, now: Date): Promise<Check> {
  switch (check.proof.method) {
    case 'biometric':
      return biometricCheck(db, check, check.proof.proof, now);
    case 'pin':
      return pinCheck(db, check, check.proof.proof);
    case 'otp':
      return otpCheck(db, deps, check, check.proof.proof, now);
  }
}
