import { createHash, createPublicKey, randomBytes, scrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { generateSecret, generateURI } from 'otplib';
import { enrolledMethods, insertDevice, insertTotp, pinOf, savePin, type PinRow } from '../db/mfa';
import type { DatabaseConnection } from '../db/pool';
import { DomainError, invalidField } from '../domain/errors';
import type { AuthMethod } from '../domain/p2p';

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

/** Sets the user's payment PIN; changing an existing one needs the current PIN. */
export async function setPin(db: DatabaseConnection, userId: string, pin: string, currentPin: string | undefined): Promise<{ created: boolean }> {
  const existing = await pinOf(db, userId);
  if (existing) {
    if (currentPin === undefined) throw invalidField('current_pin', 'is required to change an existing PIN');
    if (!(await pinMatches(existing, pinDigest(currentPin)))) {
      throw new DomainError('INVALID_MFA_CREDENTIALS', 'current_pin is not the current PIN', { field: 'current_pin' });
    }
  }
  const salt = randomBytes(16);
  await savePin(db, userId, { salt, hash: await slowHash(pinDigest(pin), salt), params: PIN_PARAMS });
  return { created: !existing };
}

/** Enrolls TOTP and returns the otpauth:// URI. The secret is shown once: a second enrolment is refused. */
export async function enrollTotp(db: DatabaseConnection, userId: string, issuer: string) {
  const secret = generateSecret({ length: 20 });
  if (!(await insertTotp(db, userId, secret))) {
    throw new DomainError('INVALID_STATE', 'TOTP is already enrolled for this user', { method: 'otp' });
  }
  return {
    method: 'otp',
    otpauth_uri: generateURI({ issuer, label: userId, secret, algorithm: 'sha1', digits: 6, period: 30 }),
    digits: 6,
    period: 30,
  };
}

export interface DeviceRegistration {
  deviceId: string;
  deviceName?: string;
  platform?: string;
  algorithm: 'ECDSA_P256' | 'RSA';
  keyData: string;
  capabilities: string[];
}

function parseDeviceKey(algorithm: DeviceRegistration['algorithm'], keyData: string): { key: KeyObject; der: Buffer } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(keyData, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw invalidField('public_key.key_data', 'must be a base64 SubjectPublicKeyInfo (DER) public key');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (algorithm === 'ECDSA_P256' && !(key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1')) {
    throw invalidField('public_key.key_data', 'is not an ECDSA P-256 key');
  }
  if (algorithm === 'RSA' && !(key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048)) {
    throw invalidField('public_key.key_data', 'is not an RSA key of at least 2048 bits');
  }
  return { key, der: key.export({ format: 'der', type: 'spki' }) };
}

/** PROTO-mfa-v1.2 7.4.5. Registering the same device with the same key again is a no-op. */
export async function registerDevice(db: DatabaseConnection, userId: string, reg: DeviceRegistration) {
  const { der } = parseDeviceKey(reg.algorithm, reg.keyData);
  const publicKeyHash = `sha256:${createHash('sha256').update(der).digest('hex')}`;
  const { device, created } = await insertDevice(db, {
    userId,
    deviceId: reg.deviceId,
    deviceName: reg.deviceName,
    platform: reg.platform,
    algorithm: reg.algorithm,
    publicKey: der,
    publicKeyHash,
    capabilities: reg.capabilities,
  });
  if (!created && device.public_key_hash !== publicKeyHash) {
    throw new DomainError('INVALID_STATE', 'This device id is registered with a different key', { field: 'device_id' });
  }
  return {
    created,
    body: {
      device_id: device.device_id,
      registered_at: device.registered_at.toISOString(),
      status: device.status,
      public_key_hash: device.public_key_hash,
    },
  };
}

/** Methods the user has set up, strongest first (PROTO 7.2.1: biometric > PIN > OTP). */
export async function availableMethods(db: DatabaseConnection, userId: string): Promise<AuthMethod[]> {
  const enrolled = await enrolledMethods(db, userId);
  return (['biometric', 'pin', 'otp'] as const).filter((m) => enrolled[m]);
}
