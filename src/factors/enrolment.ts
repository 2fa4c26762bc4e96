import { createHash, randomUUID } from 'node:crypto';
import { enrolledMethods, insertDevice, insertTotp, lockFactors, pinOf, savePin } from '../db/mfa';
import type { DatabaseConnection, DatabaseTransactionConnection } from '../db/pool';
import { DomainError } from '../domain/errors';
import { MESSENGER_SCOPE } from '../domain/lockout';
import { factorChangeMessage, type AuthMethod, type AuthProof } from '../domain/p2p';
import { parseDeviceKey, type DeviceRegistration } from './deviceKeys';

export type { DeviceRegistration } from './deviceKeys';
import { hashPin } from './pin';
import { verifyPaymentProof, type ProofDeps } from './proofs';
import { newTotp } from './totp';

/**
 * Runs one change of the user's payment factors (PIN, TOTP, device keys). The first factor needs
 * no proof; once the user has one, every change needs a valid proof with an existing factor in the
 * same request, checked with the same lockouts as payments. The change runs under a per-user lock
 * that reads the factors again, so two first enrolments racing cannot both skip the proof.
 */
async function changeFactors<T>(
  deps: ProofDeps,
  userId: string,
  action: string,
  proof: AuthProof | undefined,
  change: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  const before = await availableMethods(deps.pool, userId);
  if (before.length > 0) {
    if (!proof) {
      throw new DomainError('MFA_REQUIRED', 'auth_proof: prove one of your payment factors to add or change one', {
        field: 'auth_proof',
        available_methods: before,
      });
    }
    await verifyPaymentProof(deps, {
      userId,
      scope: MESSENGER_SCOPE,
      proof,
      signedMessage: (timestamp) => factorChangeMessage(action, userId, timestamp),
      attemptKey: `factor:${randomUUID()}`,
    });
  }
  return deps.pool.transaction(async (tx) => {
    await lockFactors(tx, userId);
    if (before.length === 0) {
      const now = await availableMethods(tx, userId);
      if (now.length > 0) {
        throw new DomainError('MFA_REQUIRED', 'auth_proof: a payment factor was set up meanwhile; prove it to add another', {
          field: 'auth_proof',
          available_methods: now,
        });
      }
    }
    return change(tx);
  });
}

/** Sets the user's payment PIN; with a factor set up already (a PIN to change, say), `proof` must prove one. */
export async function setPin(deps: ProofDeps, userId: string, pin: string, proof?: AuthProof): Promise<{ created: boolean }> {
  return changeFactors(deps, userId, 'pin', proof, async (tx) => {
    const existing = await pinOf(tx, userId);
    await savePin(tx, userId, await hashPin(pin));
    return { created: !existing };
  });
}

/**
 * Enrolls TOTP and returns the otpauth:// URI. The secret is shown once (a second enrolment is
 * refused) and kept sealed under DATA_ENCRYPTION_KEY, bound to the user.
 */
export async function enrollTotp(deps: ProofDeps, userId: string, issuer: string, proof?: AuthProof) {
  const { secret, uri } = newTotp(issuer, userId);
  const enrolled = await changeFactors(deps, userId, 'totp', proof, (tx) => insertTotp(tx, userId, deps.totpSealer.seal(secret, userId)));
  if (!enrolled) throw new DomainError('INVALID_STATE', 'TOTP is already enrolled for this user', { method: 'otp' });
  return {
    method: 'otp' as const,
    otpauth_uri: uri,
    digits: 6,
    period: 30,
  };
}

/** PROTO-mfa-v1.2 7.4.5. Registering the same device with the same key again is a no-op. */
export async function registerDevice(deps: ProofDeps, userId: string, reg: DeviceRegistration, proof?: AuthProof) {
  const { der } = parseDeviceKey(reg.algorithm, reg.keyData);
  const publicKeyHash = `sha256:${createHash('sha256').update(der).digest('hex')}`;
  const { device, created } = await changeFactors(deps, userId, `device:${reg.deviceId}`, proof, (tx) => insertDevice(tx, {
    userId,
    deviceId: reg.deviceId,
    deviceName: reg.deviceName,
    platform: reg.platform,
    algorithm: reg.algorithm,
    publicKey: der,
    publicKeyHash,
    capabilities: reg.capabilities,
  }));
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
  return methodsOf(await enrolledMethods(db, userId));
}

/** The proofs set up, in the order the API lists them. */
export function methodsOf(enrolled: Record<AuthMethod, boolean>): AuthMethod[] {
  return (['biometric', 'pin', 'otp'] as const).filter((m) => enrolled[m]);
}
