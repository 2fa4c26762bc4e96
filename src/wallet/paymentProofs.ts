import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { verify as verifyTotp } from 'otplib';
import { advanceTotpStep, claimProof, clearFailures, deviceOf, lockedUntil, pinOf, recordFailure, totpOf } from '../db/mfa';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import { formatAmount, type Currency } from '../domain/money';
import { biometricMessage, type AuthMethod, type AuthProof, type SealedProof } from '../domain/p2p';
import { createSealer, type Sealer } from '../crypto/sealing';
import { pinMatches } from './mfa';

/** Consecutive failures of one method, across transfers, that lock it for LOCK_MS. */
export const LOCK_THRESHOLD = 5;
export const LOCK_MS = 15 * 60 * 1000;
/** PROTO 7.2.4: a biometric proof's timestamp must be this close to server time. */
export const BIOMETRIC_SKEW_MS = 5 * 60 * 1000;

export interface ProofCheck {
  userId: string;
  transferId: string;
  amountMinor: bigint;
  currency: Currency;
  proof: AuthProof;
  /** Names this confirmation attempt: a retried check of the same attempt may reuse its proof. */
  attemptKey: string;
}

export interface ProofDeps {
  pool: DatabasePool;
  now: () => Date;
}

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

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Why a proof failed; becomes INVALID_SIGNATURE (signatures) or INVALID_MFA_CREDENTIALS. */
class ProofRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Checks a payment proof (PROTO 7.2.1, 7.2.4) for one confirmation attempt. Success clears the
 * method's failure count; a failure counts toward the user's lockout and answers 401 with the
 * attempts remaining, or 429 MFA_LOCKED once the method is locked.
 */
export async function verifyPaymentProof(deps: ProofDeps, check: ProofCheck): Promise<{ method: AuthMethod }> {
  const { method } = check.proof;
  const now = deps.now();
  const locked = await lockedUntil(deps.pool, check.userId, method, now);
  if (locked) {
    throw new DomainError('MFA_LOCKED', `Too many failed ${method} attempts; try again later`, { method, locked_until: locked.toISOString() });
  }
  try {
    switch (check.proof.method) {
      case 'biometric':
        await checkBiometric(deps, check, check.proof.proof, now);
        break;
      case 'pin':
        await checkPin(deps, check, check.proof.proof);
        break;
      case 'otp':
        await checkOtp(deps, check, check.proof.proof, now);
        break;
    }
  } catch (err) {
    if (!(err instanceof ProofRejected)) throw err;
    const failure = await recordFailure(deps.pool, check.userId, method, now, LOCK_THRESHOLD, LOCK_MS);
    if (failure.locked_until) {
      throw new DomainError('MFA_LOCKED', `Too many failed ${method} attempts; try again later`, {
        method,
        reason: err.reason,
        locked_until: failure.locked_until.toISOString(),
      });
    }
    const code = method === 'biometric' ? 'INVALID_SIGNATURE' : 'INVALID_MFA_CREDENTIALS';
    throw new DomainError(code, `The ${method} proof was not accepted: ${err.reason}`, {
      method,
      reason: err.reason,
      attempts_remaining: LOCK_THRESHOLD - failure.failures,
    });
  }
  await clearFailures(deps.pool, check.userId, method);
  return { method };
}

async function checkBiometric(
  deps: ProofDeps,
  check: ProofCheck,
  proof: Extract<AuthProof, { method: 'biometric' }>['proof'],
  now: Date,
): Promise<void> {
  const device = await deviceOf(deps.pool, check.userId, proof.device_id);
  if (!device) {
    throw new DomainError('DEVICE_NOT_REGISTERED', 'Register this device before using biometric proofs', { device_id: proof.device_id });
  }
  const signedAt = Date.parse(proof.timestamp);
  if (Number.isNaN(signedAt) || Math.abs(now.getTime() - signedAt) > BIOMETRIC_SKEW_MS) {
    throw new ProofRejected('timestamp is not within 5 minutes of server time');
  }
  const message = biometricMessage(check.transferId, formatAmount(check.amountMinor, check.currency), check.currency, proof.timestamp);
  const signature = Buffer.from(proof.signature, 'base64');
  const key = createPublicKey({ key: device.public_key, format: 'der', type: 'spki' });
  // Devices emit ECDSA signatures either raw (r||s, as WebCrypto does) or DER-encoded.
  const dsaEncoding = device.algorithm === 'ECDSA_P256' && signature.length === 64 ? 'ieee-p1363' : 'der';
  const valid = verifySignature('sha256', Buffer.from(message, 'utf8'), { key, dsaEncoding }, signature);
  if (!valid) throw new ProofRejected('signature does not verify with the registered device key');
  // Keyed on the signed message rather than the signature bytes: ECDSA signatures are malleable.
  const claim = await claimProof(deps.pool, sha256(`biometric:${check.userId}:${device.device_id}:${message}`), check.userId, check.attemptKey);
  if (claim === 'used') throw new ProofRejected('signature was already used');
}

async function checkPin(deps: ProofDeps, check: ProofCheck, proof: Extract<AuthProof, { method: 'pin' }>['proof']): Promise<void> {
  const stored = await pinOf(deps.pool, check.userId);
  if (!stored) throw new DomainError('MFA_REQUIRED', 'No PIN is set; set one with POST /api/v1/wallet/pin', { method: 'pin' });
  if (!(await pinMatches(stored, proof.hashed_pin))) throw new ProofRejected('PIN does not match');
}

async function checkOtp(deps: ProofDeps, check: ProofCheck, proof: Extract<AuthProof, { method: 'otp' }>['proof'], now: Date): Promise<void> {
  const totp = await totpOf(deps.pool, check.userId);
  if (!totp) throw new DomainError('MFA_REQUIRED', 'TOTP is not enrolled; enroll with POST /api/v1/wallet/totp/enroll', { method: 'otp' });
  // One 30-second step either side, for clock drift (RFC 6238 section 5.2).
  const result = await verifyTotp({ secret: totp.secret, token: proof.otp_code, epoch: Math.floor(now.getTime() / 1000), epochTolerance: 30 });
  if (!result.valid || !('timeStep' in result)) throw new ProofRejected('code is not valid');
  const { timeStep } = result;
  await deps.pool.transaction(async (tx) => {
    const claim = await claimProof(tx, sha256(`otp:${check.userId}:${timeStep}`), check.userId, check.attemptKey);
    if (claim === 'same') return;
    if (claim === 'used' || !(await advanceTotpStep(tx, check.userId, timeStep))) throw new ProofRejected('code was already used');
  });
}
