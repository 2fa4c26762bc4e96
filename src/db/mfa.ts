import { sql, type FragmentSqlToken, type ValueExpression } from 'slonik';
import { z } from 'zod';
import type { LockoutPolicy } from '../domain/lockout';
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

/**
 * Whether the user has an active device other than `exceptDeviceId` registered before
 * `registeredBefore`: one that may give a second factor after `exceptDeviceId` signed.
 */
export async function hasEstablishedDevice(db: DatabaseConnection, userId: string, exceptDeviceId: string, registeredBefore: Date): Promise<boolean> {
  return db.oneFirst(sql.type(z.object({ found: z.boolean() }))`
    SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ${userId} AND device_id <> ${exceptDeviceId} AND status = 'active'
                   AND registered_at <= ${registeredBefore.toISOString()}::timestamptz) AS found`);
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

const TotpRow = z.object({ sealed_secret: z.string().nullable(), last_time_step: z.bigint().nullable() });

/** The user's TOTP enrolment: the secret as sealed with DATA_ENCRYPTION_KEY. */
export function totpOf(db: DatabaseConnection, userId: string) {
  return db.maybeOne(sql.type(TotpRow)`SELECT sealed_secret, last_time_step FROM user_totp WHERE user_id = ${userId}`);
}

/** Enrolls the user's TOTP secret (sealed); false when one is enrolled already (the secret is shown once). */
export async function insertTotp(db: DatabaseConnection, userId: string, sealedSecret: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ user_id: z.string() }))`
    INSERT INTO user_totp (user_id, sealed_secret) VALUES (${userId}, ${sealedSecret})
    ON CONFLICT (user_id) DO NOTHING RETURNING user_id`);
  return row !== null;
}

/** Seals the TOTP secrets an earlier version stored in plaintext; returns how many it sealed. */
export async function sealPlaintextTotpSecrets(db: DatabaseConnection, seal: (userId: string, secret: string) => string): Promise<number> {
  const rows = await db.any(sql.type(z.object({ user_id: z.string(), secret: z.string() }))`
    SELECT user_id, secret FROM user_totp WHERE secret IS NOT NULL`);
  for (const row of rows) {
    await db.query(sql.unsafe`
      UPDATE user_totp SET sealed_secret = ${seal(row.user_id, row.secret)}, secret = NULL
      WHERE user_id = ${row.user_id} AND secret = ${row.secret}`);
  }
  return rows.length;
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

/** The columns of MethodsRow for the user `userId` names (a parameter or a column): which proofs they have set up. */
export const enrolledMethodsOf = (userId: ValueExpression) => sql.fragment`
  EXISTS (SELECT 1 FROM devices WHERE user_id = ${userId} AND status = 'active') AS biometric,
  EXISTS (SELECT 1 FROM user_pins WHERE user_id = ${userId}) AS pin,
  EXISTS (SELECT 1 FROM user_totp WHERE user_id = ${userId}) AS otp`;

/** Serializes changes of one user's payment factors until the transaction ends. */
export async function lockFactors(tx: DatabaseConnection, userId: string): Promise<void> {
  await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${`factors:${userId}`}, 0))`);
}

/** Which proofs the user has set up. */
export function enrolledMethods(db: DatabaseConnection, userId: string) {
  return db.one(sql.type(MethodsRow)`SELECT ${enrolledMethodsOf(userId)}`);
}

const CountRow = z.object({ wallet_locked_until: z.date().nullable(), failures: z.number().nullable(), locked_until: z.date().nullable() });
/** The wallet-wide row of a user's method: failures across apps. */
const WALLET_SCOPE = '*';

export type CountedAttempt =
  /** The attempt may be checked; `failures` counts it, and `lockedUntil` is the lock it set by reaching the threshold. */
  | { refused: false; failures: number; lockedUntil: Date | null }
  /** The method is locked, for this app or for every app: the attempt is not checked. */
  | { refused: true; lockedUntil: Date };

/**
 * Counts one attempt at a proof through one app (`scope`) before it is checked, in one statement
 * (count before you check): N concurrent guesses take N attempts, whatever their order. The
 * attempt that brings the app's count to the policy's threshold locks the method for that app for
 * the first period of the schedule; the count is not reset when a lock ends, so each later attempt
 * locks it again for the next, longer period (the last repeats). A method locked for the app, or
 * wallet-wide, refuses the attempt without counting it. Only a correct proof resets the count
 * (clearFailures).
 */
export async function countAttempt(db: DatabaseConnection, userId: string, method: string, scope: string, now: Date, policy: LockoutPolicy): Promise<CountedAttempt> {
  const at = sql.fragment`${now.toISOString()}::timestamptz`;
  const schedule = sql.array([...policy.scheduleMs], 'int8');
  const lockFor = (count: FragmentSqlToken) => sql.fragment`
    CASE WHEN ${count} >= ${policy.threshold}
      THEN ${at} + (${schedule})[least(${count} - ${policy.threshold}, ${policy.scheduleMs.length - 1}) + 1]::float8 * interval '1 millisecond'
    END`;
  // The wallet-wide lock and the count in one round trip: a proof check is on every confirm's path.
  const row = await db.one(sql.type(CountRow)`
    WITH wallet_lock AS (
      SELECT locked_until FROM mfa_failures WHERE user_id = ${userId} AND method = ${method} AND scope = ${WALLET_SCOPE} AND locked_until > ${at}
    ), counted AS (
      INSERT INTO mfa_failures AS f (user_id, method, scope, failures, locked_until)
      SELECT ${userId}, ${method}, ${scope}, 1, ${lockFor(sql.fragment`1`)} WHERE NOT EXISTS (SELECT 1 FROM wallet_lock)
      ON CONFLICT (user_id, method, scope) DO UPDATE
        SET failures = f.failures + 1, locked_until = ${lockFor(sql.fragment`f.failures + 1`)}
        WHERE f.locked_until IS NULL OR f.locked_until <= ${at}
      RETURNING failures, locked_until
    )
    SELECT w.locked_until AS wallet_locked_until, c.failures, c.locked_until
    FROM (SELECT 1) AS one LEFT JOIN wallet_lock w ON true LEFT JOIN counted c ON true`);
  if (row.wallet_locked_until) return { refused: true, lockedUntil: row.wallet_locked_until };
  if (row.failures !== null) return { refused: false, failures: row.failures, lockedUntil: row.locked_until };
  // Not counted: the method is locked for this app.
  const lockedUntil = await db.oneFirst(sql.type(z.object({ locked_until: z.date() }))`
    SELECT locked_until FROM mfa_failures WHERE user_id = ${userId} AND method = ${method} AND scope = ${scope}`);
  return { refused: true, lockedUntil };
}

/**
 * A checked proof that failed, counted wallet-wide: failures of the method across every app within
 * the policy's window. The one that reaches the wallet threshold locks the method everywhere for a
 * window. Answers that lock, if this failure set it.
 */
export async function countWalletFailure(db: DatabaseConnection, userId: string, method: string, now: Date, policy: LockoutPolicy): Promise<Date | null> {
  const at = sql.fragment`${now.toISOString()}::timestamptz`;
  const windowMs = policy.wallet.windowMs;
  const fresh = sql.fragment`(f.window_started_at IS NULL OR f.window_started_at <= ${at} - ${windowMs}::float8 * interval '1 millisecond')`;
  const failures = sql.fragment`CASE WHEN ${fresh} THEN 1 ELSE f.failures + 1 END`;
  const row = await db.one(sql.type(z.object({ locked_until: z.date().nullable() }))`
    INSERT INTO mfa_failures AS f (user_id, method, scope, failures, window_started_at, locked_until)
    VALUES (${userId}, ${method}, ${WALLET_SCOPE}, 1, ${at}, CASE WHEN 1 >= ${policy.wallet.threshold} THEN ${at} + ${windowMs}::float8 * interval '1 millisecond' END)
    ON CONFLICT (user_id, method, scope) DO UPDATE
      SET failures = ${failures},
          window_started_at = CASE WHEN ${fresh} THEN ${at} ELSE f.window_started_at END,
          locked_until = CASE WHEN ${failures} >= ${policy.wallet.threshold} THEN ${at} + ${windowMs}::float8 * interval '1 millisecond' ELSE f.locked_until END
    RETURNING locked_until`);
  return row.locked_until && row.locked_until > now ? row.locked_until : null;
}

/** A correct proof through `scope`: that app's count starts over (the wallet-wide count runs out with its window). */
export async function clearFailures(db: DatabaseConnection, userId: string, method: string, scope: string): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM mfa_failures WHERE user_id = ${userId} AND method = ${method} AND scope = ${scope}`);
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
