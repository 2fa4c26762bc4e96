import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { advanceTotpStep, claimProof, totpOf } from '../db/mfa';
import { createSealer, type Sealer } from '../crypto/sealing';
import { sha256Hex } from '../crypto/secrets';
import { DomainError } from '../domain/errors';
import type { AuthProof } from '../domain/p2p';
import type { DatabaseConnection } from '../db/pool';
import { ProofRejected, type Check, type ProofCheck, type ProofDeps } from './check';

/** The sealer for TOTP secrets at rest; each is bound to its user. */
export function totpSealer(dataKey: Buffer): Sealer {
  return createSealer(dataKey, 'totp-secret');
}

/** A new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) and its otpauth:// URI. */
export function newTotp(issuer: string, label: string): { secret: string; uri: string } {
  const secret = generateSecret({ length: 20 });
  return { secret, uri: generateURI({ issuer, label, secret, algorithm: 'sha1', digits: 6, period: 30 }) };
}

export async function otpCheck(db: DatabaseConnection, deps: Pick<ProofDeps, 'totpSealer'>, check: ProofCheck, proof: Extract<AuthProof, { method: 'otp' }>['proof'], now: Date): Promise<Check> {
  const totp = await totpOf(db, check.userId);
  if (!totp?.sealed_secret) throw new DomainError('MFA_REQUIRED', 'TOTP is not enrolled; enroll with POST /api/v1/wallet/totp/enroll', { method: 'otp' });
  const secret = deps.totpSealer.open(totp.sealed_secret, check.userId);
  return async () => {
    // One 30-second step either side, for clock drift (RFC 6238 section 5.2).
    const result = await verifyTotp({ secret, token: proof.otp_code, epoch: Math.floor(now.getTime() / 1000), epochTolerance: 30 });
    if (!result.valid || !('timeStep' in result)) throw new ProofRejected('code is not valid');
    const { timeStep } = result;
    await db.transaction(async (tx) => {
      const claim = await claimProof(tx, sha256Hex(`otp:${check.userId}:${timeStep}`), check.userId, check.attemptKey);
      if (claim === 'same') return;
      if (claim === 'used' || !(await advanceTotpStep(tx, check.userId, timeStep))) throw new ProofRejected('code was already used');
    });
  };
}
