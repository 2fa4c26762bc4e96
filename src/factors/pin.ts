import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { pinOf, type PinRow } from '../db/mfa';
import { DomainError } from '../domain/errors';
import type { AuthProof } from '../domain/p2p';
import type { DatabaseConnection } from '../db/pool';
import { ProofRejected, type Check, type ProofCheck } from './check';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/**
 * scrypt with N=2^14 (about 30 ms here). A PIN has few digits, so the lockout is what stops
 * guessing online; the slow hash makes a stolen table expensive to brute-force offline.
 */
const PIN_SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
const PIN_PARAMS = `scrypt:N=${PIN_SCRYPT.N},r=${PIN_SCRYPT.r},p=${PIN_SCRYPT.p}`;

/** The SHA-256 hex of a PIN, which is what clients send as `hashed_pin` (PROTO 7.2.4). */
export function pinDigest(pin: string): string {
  return createHash('sha256').update(pin, 'utf8').digest('hex');
}

async function slowHash(hashedPin: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(hashedPin.toLowerCase(), salt, PIN_SCRYPT.keylen, { N: PIN_SCRYPT.N, r: PIN_SCRYPT.r, p: PIN_SCRYPT.p });
}

export async function pinMatches(stored: PinRow, hashedPin: string): Promise<boolean> {
  if (stored.params !== PIN_PARAMS) throw new Error(`unknown PIN hash parameters ${stored.params}`);
  const candidate = await slowHash(hashedPin, stored.salt);
  return candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash);
}

/** A new salted hash of a PIN, as stored. */
export async function hashPin(pin: string): Promise<PinRow> {
  const salt = randomBytes(16);
  return { salt, hash: await slowHash(pinDigest(pin), salt), params: PIN_PARAMS };
}

export async function pinCheck(db: DatabaseConnection, check: ProofCheck, proof: Extract<AuthProof, { method: 'pin' }>['proof']): Promise<Check> {
  const stored = await pinOf(db, check.userId);
  if (!stored) throw new DomainError('MFA_REQUIRED', 'No PIN is set; set one with POST /api/v1/wallet/pin', { method: 'pin' });
  return async () => {
    if (!(await pinMatches(stored, proof.hashed_pin))) throw new ProofRejected('PIN does not match');
  };
}

