import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

export const DeviceRow = z.object({
  user_id: z.string(),
  device_id: z.string(),
  algorithm: z.enum(['ECDSA_P256', 'RSA']),
  public_key: z.instanceof(Buffer),
  public_key_hash: z.string(),
  status: z.enum(['active', 'revoked']),
  registered_at: z.date(),
});
export type DeviceRow = z.infer<typeof DeviceRow>;

const DEVICE_COLUMNS = sql.fragment`user_id, device_id, algorithm, public_key, public_key_hash, status, registered_at`;

export interface NewDevice {
  userId: string;
  deviceId: string;
  deviceName?: string;
  platform?: string;
  algorithm: 'ECDSA_P256' | 'RSA';
  publicKey: Buffer;
  publicKeyHash: string;
  capabilities: string[];
}

/** Registers a device key; an existing registration of the same device id is returned unchanged. */
export async function insertDevice(db: DatabaseConnection, d: NewDevice): Promise<{ device: DeviceRow; created: boolean }> {
  const inserted = await db.maybeOne(sql.type(DeviceRow)`
    INSERT INTO devices (user_id, device_id, device_name, platform, algorithm, public_key, public_key_hash, biometric_capabilities)
    VALUES (${d.userId}, ${d.deviceId}, ${d.deviceName ?? null}, ${d.platform ?? null}, ${d.algorithm},
            ${sql.binary(d.publicKey)}, ${d.publicKeyHash}, ${sql.array(d.capabilities, 'text')})
    ON CONFLICT (user_id, device_id) DO NOTHING
    RETURNING ${DEVICE_COLUMNS}`);
  if (inserted) return { device: inserted, created: true };
  const existing = await db.one(sql.type(DeviceRow)`
    SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ${d.userId} AND device_id = ${d.deviceId}`);
  return { device: existing, created: false };
}

export function deviceOf(db: DatabaseConnection, userId: string, deviceId: string): Promise<DeviceRow | null> {
  return db.maybeOne(sql.type(DeviceRow)`
    SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ${userId} AND device_id = ${deviceId} AND status = 'active'`);
}

const PinRow = z.object({ salt: z.instanceof(Buffer), hash: z.instanceof(Buffer), params: z.string() });
export type PinRow = z.infer<typeof PinRow>;

export function pinOf(db: DatabaseConnection, userId: string): Promise<PinRow | null> {
  return db.maybeOne(sql.type(PinRow)`SELECT salt, hash, params FROM user_pins WHERE user_id = ${userId}`);
}

export async function savePin(db: DatabaseConnection, userId: string, pin: PinRow): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO user_pins (user_id, salt, hash, params) VALUES (${userId}, ${sql.binary(pin.salt)}, ${sql.binary(pin.hash)}, ${pin.params})
    ON CONFLICT (user_id) DO UPDATE SET salt = EXCLUDED.salt, hash = EXCLUDED.hash, params = EXCLUDED.params, updated_at = now()`);
}

const TotpRow = z.object({ secret: z.string(), last_time_step: z.bigint().nullable() });

export function totpOf(db: DatabaseConnection, userId: string) {
  return db.maybeOne(sql.type(TotpRow)`SELECT secret, last_time_step FROM user_totp WHERE user_id = ${userId}`);
}

/** Enrolls the user's TOTP secret; false when one is enrolled already (the secret is shown once). */
export async function insertTotp(db: DatabaseConnection, userId: string, secret: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ user_id: z.string() }))`
    INSERT INTO user_totp (user_id, secret) VALUES (${userId}, ${secret})
    ON CONFLICT (user_id) DO NOTHING RETURNING user_id`);
  return row !== null;
}

/** Moves the last used time step forward; false when `timeStep` is not newer (the code was used). */
export async function advanceTotpStep(db: DatabaseConnection, userId: string, timeStep: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ user_id: z.string() }))`
    UPDATE user_totp SET last_time_step = ${timeStep}
    WHERE user_id = ${userId} AND (last_time_step IS NULL OR last_time_step < ${timeStep})
    RETURNING user_id`);
  return row !== null;
}

const MethodsRow = z.object({ biometric: z.boolean(), pin: z.boolean(), otp: z.boolean() });

/** Which proofs the user has set up. */
export function enrolledMethods(db: DatabaseConnection, userId: string) {
  return db.one(sql.type(MethodsRow)`
    SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ${userId} AND status = 'active') AS biometric,
           EXISTS (SELECT 1 FROM user_pins WHERE user_id = ${userId}) AS pin,
           EXISTS (SELECT 1 FROM user_totp WHERE user_id = ${userId}) AS otp`);
}

const FailureRow = z.object({ failures: z.number(), locked_until: z.date().nullable() });

export function lockedUntil(db: DatabaseConnection, userId: string, method: string, now: Date): Promise<Date | null> {
  return db.maybeOneFirst(sql.type(z.object({ locked_until: z.date() }))`
    SELECT locked_until FROM mfa_failures
    WHERE user_id = ${userId} AND method = ${method} AND locked_until > ${now.toISOString()}::timestamptz`);
}

/**
 * Counts one failed proof. At `threshold` consecutive failures the method locks until
 * `now + lockMs` and the count starts over.
 */
export async function recordFailure(db: DatabaseConnection, userId: string, method: string, now: Date, threshold: number, lockMs: number) {
  const row = await db.one(sql.type(FailureRow)`
    INSERT INTO mfa_failures AS f (user_id, method, failures) VALUES (${userId}, ${method}, 1)
    ON CONFLICT (user_id, method) DO UPDATE SET failures = f.failures + 1
    RETURNING failures, locked_until`);
  if (row.failures < threshold) return row;
  return db.one(sql.type(FailureRow)`
    UPDATE mfa_failures SET failures = 0, locked_until = ${new Date(now.getTime() + lockMs).toISOString()}::timestamptz
    WHERE user_id = ${userId} AND method = ${method} RETURNING failures, locked_until`);
}

export async function clearFailures(db: DatabaseConnection, userId: string, method: string): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM mfa_failures WHERE user_id = ${userId} AND method = ${method}`);
}

/**
 * Marks a proof as used by `consumer`. 'fresh' the first time, 'same' when that consumer used it
 * already (a retried verification), 'used' when someone else did (a replay).
 */
export async function claimProof(db: DatabaseConnection, proofHash: string, userId: string, consumer: string): Promise<'fresh' | 'same' | 'used'> {
  const inserted = await db.maybeOne(sql.type(z.object({ proof_hash: z.string() }))`
    INSERT INTO used_proofs (proof_hash, user_id, consumer) VALUES (${proofHash}, ${userId}, ${consumer})
    ON CONFLICT (proof_hash) DO NOTHING RETURNING proof_hash`);
  if (inserted) return 'fresh';
  const owner = await db.oneFirst(sql.type(z.object({ consumer: z.string() }))`
    SELECT consumer FROM used_proofs WHERE proof_hash = ${proofHash}`);
  return owner === consumer ? 'same' : 'used';
}
