import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { verify as verifyTotp } from 'otplib';
import { advanceTotpStep, claimProof, clearFailures, countAttempt, countWalletFailure, deviceOf, pinOf, totpOf, type DeviceRow } from '../db/mfa';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import type { LockoutPolicy } from '../domain/lockout';
import type { AuthMethod, AuthProof, SealedProof } from '../domain/p2p';
import { createSealer, type Sealer } from '../crypto/sealing';
import { sha256Hex } from '../crypto/secrets';
import { pinMatches } from './mfa';

/** PROTO 7.2.4: a biometric proof's timestamp must be this close to server time. */
export const BIOMETRIC_SKEW_MS = 5 * 60 * 1000;

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

/** The sealer for auth proofs; the API seals, the worker opens, both with DATA_ENCRYPTION_KEY. */
export function proofSealer(dataKey: Buffer): Sealer {
  return createSealer(dataKey, 'auth-proof');
}

/** The sealer for TOTP secrets at rest; each is bound to its user. */
export function totpSealer(dataKey: Buffer): Sealer {
  return createSealer(dataKey, 'totp-secret');
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


/** Why a proof failed; becomes INVALID_SIGNATURE (signatures) or INVALID_MFA_CREDENTIALS. */
class ProofRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Checks the proof against the factor it names; throws ProofRejected when it does not match. */
type Check = () => Promise<void>;

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
  const { method } = check.proof;
  const now = deps.now();
  const matches = await prepareCheck(deps, check, now);
  const attempt = await countAttempt(deps.pool, check.userId, method, check.scope, now, deps.lockout);
  if (attempt.refused) throw locked(method, attempt.lockedUntil, now);
  try {
    await matches();
  } catch (err) {
    if (!(err instanceof ProofRejected)) throw err;
    const walletLock = await countWalletFailure(deps.pool, check.userId, method, now, deps.lockout);
    const lock = attempt.lockedUntil ?? walletLock;
    if (lock) throw locked(method, lock, now, err.reason);
    const code = method === 'biometric' ? 'INVALID_SIGNATURE' : 'INVALID_MFA_CREDENTIALS';
    throw new DomainError(code, `The ${method} proof was not accepted: ${err.reason}`, {
      method,
      reason: err.reason,
      attempts_remaining: Math.max(0, deps.lockout.threshold - attempt.failures),
    });
  }
  await clearFailures(deps.pool, check.userId, method, check.scope);
  return { method };
}

function locked(method: AuthMethod, until: Date, now: Date, reason?: string): DomainError {
  return new DomainError('MFA_LOCKED', `Too many failed ${method} attempts; try again later`, {
    method,
    ...(reason ? { reason } : {}),
    locked_until: until.toISOString(),
    retry_after_seconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)),
  });
}

/** Loads the factor the proof names and returns its check. */
function prepareCheck(deps: ProofDeps, check: ProofCheck, now: Date): Promise<Check> {
  switch (check.proof.method) {
    case 'biometric':
      return biometricCheck(deps, check, check.proof.proof, now);
    case 'pin':
      return pinCheck(deps, check, check.proof.proof);
    case 'otp':
      return otpCheck(deps, check, check.proof.proof, now);
  }
}

async function biometricCheck(deps: ProofDeps, check: ProofCheck, proof: Extract<AuthProof, { method: 'biometric' }>['proof'], now: Date): Promise<Check> {
  const device = await deviceOf(deps.pool, check.userId, proof.device_id);
  if (!device) {
    throw new DomainError('DEVICE_NOT_REGISTERED', 'Register this device before using biometric proofs', { device_id: proof.device_id });
  }
  const signature = signatureBytes(proof.signature, device);
  return async () => {
    const signedAt = Date.parse(proof.timestamp);
    const skewMs = check.maxSkewMs ?? BIOMETRIC_SKEW_MS;
    if (Number.isNaN(signedAt) || Math.abs(now.getTime() - signedAt) > skewMs) {
      throw new ProofRejected(`timestamp is not within ${skewMs >= 60_000 ? `${skewMs / 60_000} minutes` : `${skewMs / 1000} seconds`} of server time`);
    }
    const message = check.signedMessage(proof.timestamp);
    const key = createPublicKey({ key: device.public_key, format: 'der', type: 'spki' });
    // Devices emit ECDSA signatures either raw (r||s, as WebCrypto does) or DER-encoded.
    const dsaEncoding = device.algorithm === 'ECDSA_P256' && signature.length === 64 ? 'ieee-p1363' : 'der';
    const valid = verifySignature('sha256', Buffer.from(message, 'utf8'), { key, dsaEncoding }, signature);
    if (!valid) throw new ProofRejected('signature does not verify with the registered device key');
    // Keyed on the signed message rather than the signature bytes: ECDSA signatures are malleable.
    const claim = await claimProof(deps.pool, sha256Hex(`biometric:${check.userId}:${device.device_id}:${message}`), check.userId, check.attemptKey);
    if (claim === 'used') throw new ProofRejected('signature was already used');
  };
}

/**
 * The signature's bytes, when they could be a signature of the device's key: base64 (or base64url)
 * that decodes exactly, of the key's length (ECDSA P-256: 64 bytes raw or a DER sequence of 8 to 72;
 * RSA: the modulus length). Anything else is malformed input, not a guess, and is not counted.
 */
function signatureBytes(text: string, device: DeviceRow): Buffer {
  const bytes = Buffer.from(text, 'base64');
  const canonical = (b64: string) => b64.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const exact = canonical(bytes.toString('base64')) === canonical(text);
  const plausible =
    device.algorithm === 'ECDSA_P256'
      ? bytes.length === 64 || (bytes.length >= 8 && bytes.length <= 72 && bytes[0] === 0x30)
      : bytes.length === (createPublicKey({ key: device.public_key, format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (!exact || !plausible) {
    throw new DomainError('INVALID_REQUEST', `signature: is not a ${device.algorithm === 'RSA' ? 'RSA' : 'ECDSA P-256'} signature of this device's key (wrong length or encoding)`, {
      field: 'signature',
      reason: 'wrong length or encoding',
    });
  }
  return bytes;
}

async function pinCheck(deps: ProofDeps, check: ProofCheck, proof: Extract<AuthProof, { method: 'pin' }>['proof']): Promise<Check> {
  const stored = await pinOf(deps.pool, check.userId);
  if (!stored) throw new DomainError('MFA_REQUIRED', 'No PIN is set; set one with POST /api/v1/wallet/pin', { method: 'pin' });
  return async () => {
    if (!(await pinMatches(stored, proof.hashed_pin))) throw new ProofRejected('PIN does not match');
  };
}

async function otpCheck(deps: ProofDeps, check: ProofCheck, proof: Extract<AuthProof, { method: 'otp' }>['proof'], now: Date): Promise<Check> {
  const totp = await totpOf(deps.pool, check.userId);
  if (!totp?.sealed_secret) throw new DomainError('MFA_REQUIRED', 'TOTP is not enrolled; enroll with POST /api/v1/wallet/totp/enroll', { method: 'otp' });
  const secret = deps.totpSealer.open(totp.sealed_secret, check.userId);
  return async () => {
    // One 30-second step either side, for clock drift (RFC 6238 section 5.2).
    const result = await verifyTotp({ secret, token: proof.otp_code, epoch: Math.floor(now.getTime() / 1000), epochTolerance: 30 });
    if (!result.valid || !('timeStep' in result)) throw new ProofRejected('code is not valid');
    const { timeStep } = result;
    await deps.pool.transaction(async (tx) => {
      const claim = await claimProof(tx, sha256Hex(`otp:${check.userId}:${timeStep}`), check.userId, check.attemptKey);
      if (claim === 'same') return;
      if (claim === 'used' || !(await advanceTotpStep(tx, check.userId, timeStep))) throw new ProofRejected('code was already used');
    });
  };
}
