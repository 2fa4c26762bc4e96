import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

const DeviceGrantRow = z.object({
  id: z.string(),
  client_id: z.string(),
  scopes: z.array(z.string()),
  user_code: z.string(),
  expires_at: z.date(),
  approved_user_id: z.string().nullable(),
  approved_wallet_id: z.string().nullable(),
  redeemed_at: z.date().nullable(),
});
const COLUMNS = sql.fragment`id, client_id, scopes, user_code, expires_at, approved_user_id, approved_wallet_id, redeemed_at`;
export type DeviceGrantRow = z.infer<typeof DeviceGrantRow>;

/**
 * Records a grant's codes. False when the user code belongs to a live grant (the caller draws
 * another); the code of an expired grant is taken over.
 */
export async function insertDeviceGrant(
  db: DatabaseConnection,
  grant: { id: string; clientId: string; scopes: readonly string[]; userCode: string; deviceCodeHash: string; expiresInSeconds: number },
): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ id: z.string() }))`
    INSERT INTO device_grants AS g (id, client_id, scopes, user_code, device_code_hash, expires_at)
    VALUES (${grant.id}, ${grant.clientId}, ${sql.array([...grant.scopes], 'text')}, ${grant.userCode}, ${grant.deviceCodeHash},
            now() + ${grant.expiresInSeconds} * interval '1 second')
    ON CONFLICT (user_code) DO UPDATE
      SET id = excluded.id, client_id = excluded.client_id, scopes = excluded.scopes,
          device_code_hash = excluded.device_code_hash, created_at = now(), expires_at = excluded.expires_at,
          approved_user_id = NULL, approved_wallet_id = NULL, redeemed_at = NULL
      WHERE g.expires_at < now()
    RETURNING id`);
  return row !== null;
}

export function deviceGrantByDeviceCode(db: DatabaseConnection, deviceCodeHash: string) {
  return db.maybeOne(sql.type(DeviceGrantRow)`
    SELECT ${COLUMNS} FROM device_grants WHERE device_code_hash = ${deviceCodeHash}`);
}

/** The live grant of a user code; null for an unknown or expired one. */
export function liveDeviceGrantByUserCode(db: DatabaseConnection, userCode: string) {
  return db.maybeOne(sql.type(DeviceGrantRow)`
    SELECT ${COLUMNS} FROM device_grants WHERE user_code = ${userCode} AND expires_at > now()`);
}

/**
 * Reserves one user-code lookup for an address, before the lookup (count before you check):
 * answers the lookups of the last `windowMinutes` minutes, this one included. One statement, so
 * racing lookups cannot all pass the limit. Old rows are dropped by the sweeper (purgeOAuthLeftovers).
 */
export async function reserveUserCodeLookup(db: DatabaseConnection, address: string, windowMinutes: number): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(sql.unsafe`
      INSERT INTO user_code_lookups (address, minute, lookups) VALUES (${address}, date_trunc('minute', now()), 1)
      ON CONFLICT (address, minute) DO UPDATE SET lookups = user_code_lookups.lookups + 1`);
    return tx.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT coalesce(sum(lookups), 0)::int AS n FROM user_code_lookups
      WHERE address = ${address} AND minute > now() - ${windowMinutes} * interval '1 minute'`);
  });
}

/** Gives back a reserved lookup that found a live code: only wrong codes count against the address. */
export async function releaseUserCodeLookup(db: DatabaseConnection, address: string): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE user_code_lookups SET lookups = lookups - 1
    WHERE address = ${address} AND minute = (SELECT max(minute) FROM user_code_lookups WHERE address = ${address} AND lookups > 0)`);
}

/** The user's approval of a grant, kept with it (the workflow's activity writes it; safe to repeat). */
export async function recordGrantApproval(db: DatabaseConnection, grantId: string, approval: { userId: string; walletId: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE device_grants SET approved_user_id = ${approval.userId}, approved_wallet_id = ${approval.walletId} WHERE id = ${grantId}`);
}

/**
 * Marks the grant redeemed, once: false when it was redeemed already. Called in the transaction
 * that records the session the tokens belong to, so the two commit or fail together.
 */
export async function markGrantRedeemed(tx: DatabaseConnection, grantId: string): Promise<boolean> {
  const row = await tx.maybeOne(sql.type(z.object({ id: z.string() }))`
    UPDATE device_grants SET redeemed_at = now() WHERE id = ${grantId} AND redeemed_at IS NULL RETURNING id`);
  return row !== null;
}
