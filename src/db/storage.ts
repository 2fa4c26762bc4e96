import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection, DatabaseTransactionConnection } from './pool';

const EntryRow = z.object({
  key: z.string(),
  key_id: z.string(),
  ciphertext: z.instanceof(Buffer),
  size_bytes: z.number(),
  content_type: z.string().nullable(),
  version: z.bigint(),
  client_timestamp: z.bigint().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
  expires_at: z.date().nullable(),
});
export type StorageEntry = z.infer<typeof EntryRow>;

const COLUMNS = sql.fragment`key, key_id, ciphertext, size_bytes, content_type, version, client_timestamp, created_at, updated_at, expires_at`;
/** A value past its expiry is gone, whether or not the purge has deleted it yet. */
const LIVE = sql.fragment`(expires_at IS NULL OR expires_at > now())`;

export interface Namespace {
  clientId: string;
  userId: string;
}

export function liveEntries(db: DatabaseConnection, ns: Namespace, keys: readonly string[]): Promise<readonly StorageEntry[]> {
  return db.any(sql.type(EntryRow)`
    SELECT ${COLUMNS} FROM storage_entries
    WHERE client_id = ${ns.clientId} AND user_id = ${ns.userId} AND key = ANY (${sql.array([...keys], 'text')}) AND ${LIVE}`);
}

/** Keys in order after `after` (the cursor), with `prefix`; at most `limit`. */
export function listEntries(db: DatabaseConnection, ns: Namespace, opts: { prefix: string; after?: string; limit: number }) {
  return db.any(sql.type(EntryRow)`
    SELECT ${COLUMNS} FROM storage_entries
    WHERE client_id = ${ns.clientId} AND user_id = ${ns.userId} AND ${LIVE}
      AND starts_with(key, ${opts.prefix}) ${opts.after !== undefined ? sql.fragment`AND key COLLATE "C" > ${opts.after}` : sql.fragment``}
    ORDER BY key COLLATE "C" LIMIT ${opts.limit}`);
}

/**
 * Locks the namespace for the rest of the transaction: every write of one user to one mini-app's
 * storage waits here. One statement: the upsert creates the row the first time and locks it always.
 */
export async function lockNamespace(tx: DatabaseTransactionConnection, ns: Namespace): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO storage_namespaces (client_id, user_id) VALUES (${ns.clientId}, ${ns.userId})
    ON CONFLICT (client_id, user_id) DO UPDATE SET user_id = excluded.user_id`);
}

export function usage(db: DatabaseConnection, ns: Namespace): Promise<{ bytes: number; keys: number }> {
  return db.one(sql.type(z.object({ bytes: z.number(), keys: z.number() }))`
    SELECT coalesce(sum(size_bytes), 0)::int AS bytes, count(*)::int AS keys FROM storage_entries
    WHERE client_id = ${ns.clientId} AND user_id = ${ns.userId} AND ${LIVE}`);
}

export async function upsertEntry(
  tx: DatabaseConnection,
  ns: Namespace,
  e: { key: string; keyId: string; ciphertext: Buffer; sizeBytes: number; contentType: string | null; clientTimestamp: number | null; ttlSeconds: number | null },
): Promise<StorageEntry> {
  // An expired row in the way is replaced as if it were not there (a new creation time), but its
  // version keeps counting: an ETag held from before the expiry must not match the new value.
  return tx.one(sql.type(EntryRow)`
    INSERT INTO storage_entries AS s (client_id, user_id, key, key_id, ciphertext, size_bytes, content_type, version, client_timestamp, expires_at)
    VALUES (${ns.clientId}, ${ns.userId}, ${e.key}, ${e.keyId}, ${sql.binary(e.ciphertext)}, ${e.sizeBytes}, ${e.contentType}, 1, ${e.clientTimestamp},
            ${e.ttlSeconds === null ? null : sql.fragment`now() + ${e.ttlSeconds} * interval '1 second'`})
    ON CONFLICT (client_id, user_id, key) DO UPDATE SET
      key_id = excluded.key_id, ciphertext = excluded.ciphertext, size_bytes = excluded.size_bytes, content_type = excluded.content_type,
      client_timestamp = excluded.client_timestamp, expires_at = excluded.expires_at, updated_at = now(),
      version = s.version + 1,
      created_at = CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN now() ELSE s.created_at END
    RETURNING ${COLUMNS}`);
}

export async function deleteEntry(tx: DatabaseConnection, ns: Namespace, key: string): Promise<boolean> {
  const row = await tx.maybeOne(sql.type(z.object({ key: z.string() }))`
    DELETE FROM storage_entries WHERE client_id = ${ns.clientId} AND user_id = ${ns.userId} AND key = ${key} AND ${LIVE} RETURNING key`);
  return row !== null;
}

/** Everything one user keeps for one mini-app (the user revoked the app, PROTO 10.3.8). */
export async function deleteNamespace(db: DatabaseConnection, ns: Namespace): Promise<number> {
  const rows = await db.anyFirst(sql.type(z.object({ key: z.string() }))`
    DELETE FROM storage_entries WHERE client_id = ${ns.clientId} AND user_id = ${ns.userId} RETURNING key`);
  return rows.length;
}

/** Deletes up to `limit` expired values; answers how many. */
export async function purgeExpired(db: DatabaseConnection, limit: number): Promise<number> {
  const rows = await db.anyFirst(sql.type(z.object({ key: z.string() }))`
    DELETE FROM storage_entries WHERE ctid IN (
      SELECT ctid FROM storage_entries WHERE expires_at IS NOT NULL AND expires_at <= now() LIMIT ${limit})
    RETURNING key`);
  return rows.length;
}

const RotateRow = z.object({ client_id: z.string(), user_id: z.string(), key: z.string(), key_id: z.string(), ciphertext: z.instanceof(Buffer), version: z.bigint() });
export type RotateRow = z.infer<typeof RotateRow>;

/** A batch of values still under a key other than `currentKeyId`. */
export function entriesToRotate(db: DatabaseConnection, currentKeyId: string, limit: number) {
  return db.any(sql.type(RotateRow)`
    SELECT client_id, user_id, key, key_id, ciphertext, version FROM storage_entries WHERE key_id <> ${currentKeyId} LIMIT ${limit}`);
}

/** Replaces a value's ciphertext if it did not change meanwhile (same version); answers whether it did. */
export async function reencryptEntry(db: DatabaseConnection, row: RotateRow, keyId: string, ciphertext: Buffer): Promise<boolean> {
  const done = await db.maybeOne(sql.type(z.object({ key: z.string() }))`
    UPDATE storage_entries SET key_id = ${keyId}, ciphertext = ${sql.binary(ciphertext)}
    WHERE client_id = ${row.client_id} AND user_id = ${row.user_id} AND key = ${row.key} AND version = ${row.version.toString()} AND key_id = ${row.key_id}
    RETURNING key`);
  return done !== null;
}
