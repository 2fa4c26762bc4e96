import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

export const DeveloperRow = z.object({
  user_id: z.string(),
  status: z.enum(['active', 'revoked']),
  created_at: z.date(),
  revoked_at: z.date().nullable(),
});
export type Developer = z.infer<typeof DeveloperRow>;

/**
 * Enrolls a Matrix user as a developer (PROTO 4.4's whitelist), or enrolls them again after a
 * revocation: then every token from before it stays dead (it was only dead while they were revoked).
 */
export function enrollDeveloper(db: DatabaseConnection, userId: string): Promise<Developer> {
  return db.transaction(async (tx) => {
    const before = await tx.maybeOneFirst(sql.type(z.object({ status: z.string() }))`SELECT status FROM developers WHERE user_id = ${userId} FOR UPDATE`);
    if (before === 'revoked') await tx.query(sql.unsafe`UPDATE developer_tokens SET revoked_at = now() WHERE user_id = ${userId} AND revoked_at IS NULL`);
    return tx.one(sql.type(DeveloperRow)`
      INSERT INTO developers (user_id, status) VALUES (${userId}, 'active')
      ON CONFLICT (user_id) DO UPDATE SET status = 'active', revoked_at = NULL
      RETURNING *`);
  });
}

export function developerById(db: DatabaseConnection, userId: string): Promise<Developer | null> {
  return db.maybeOne(sql.type(DeveloperRow)`SELECT * FROM developers WHERE user_id = ${userId}`);
}

export function listDevelopers(db: DatabaseConnection): Promise<readonly Developer[]> {
  return db.any(sql.type(DeveloperRow)`SELECT * FROM developers ORDER BY created_at, user_id`);
}

/** Takes a developer off the whitelist: every token they hold stops at once. Null when there is no such developer. */
export async function revokeDeveloper(db: DatabaseConnection, userId: string): Promise<Developer | null> {
  return db.transaction(async (tx) => {
    const row = await tx.maybeOne(sql.type(DeveloperRow)`
      UPDATE developers SET status = 'revoked', revoked_at = coalesce(revoked_at, now()) WHERE user_id = ${userId} RETURNING *`);
    if (row) await tx.query(sql.unsafe`UPDATE developer_tokens SET revoked_at = now() WHERE user_id = ${userId} AND revoked_at IS NULL`);
    return row;
  });
}

export interface NewDeveloperToken {
  hash: string;
  kind: 'access' | 'refresh';
  expiresAt: Date;
}

/**
 * Keeps new tokens of an active developer; false (and nothing kept) when they are not one. The
 * developer's row is held while they are written, so a revocation at the same moment either comes
 * first (no token) or after (and revokes them).
 */
export async function insertDeveloperTokens(db: DatabaseConnection, userId: string, grantId: string, tokens: readonly NewDeveloperToken[]): Promise<boolean> {
  return db.transaction(async (tx) => {
    const active = await tx.maybeOneFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT user_id FROM developers WHERE user_id = ${userId} AND status = 'active' FOR SHARE`);
    if (!active) return false;
    for (const t of tokens) {
      await tx.query(sql.unsafe`
        INSERT INTO developer_tokens (token_hash, user_id, kind, grant_id, expires_at)
        VALUES (${t.hash}, ${userId}, ${t.kind}, ${grantId}, ${t.expiresAt.toISOString()})`);
    }
    return true;
  });
}

const TokenRow = z.object({ user_id: z.string(), grant_id: z.string(), kind: z.enum(['access', 'refresh']) });

/** The live token with this hash, of a developer still enrolled; null for anything else. */
export function liveDeveloperToken(db: DatabaseConnection, hash: string, kind: 'access' | 'refresh') {
  return db.maybeOne(sql.type(TokenRow)`
    SELECT t.user_id, t.grant_id, t.kind FROM developer_tokens t JOIN developers d ON d.user_id = t.user_id
    WHERE t.token_hash = ${hash} AND t.kind = ${kind} AND t.revoked_at IS NULL AND t.expires_at > now() AND d.status = 'active'`);
}

/**
 * Spends a refresh token: it is revoked with its grant (single use, PROTO 4.4.8); answers whose it
 * was, or null when it was not live. The row lock makes two concurrent uses one success.
 */
export async function spendRefreshToken(db: DatabaseConnection, hash: string): Promise<{ user_id: string } | null> {
  return db.transaction(async (tx) => {
    const row = await tx.maybeOne(sql.type(TokenRow)`
      SELECT t.user_id, t.grant_id, t.kind FROM developer_tokens t JOIN developers d ON d.user_id = t.user_id
      WHERE t.token_hash = ${hash} AND t.kind = 'refresh' AND t.revoked_at IS NULL AND t.expires_at > now() AND d.status = 'active'
      FOR UPDATE OF t`);
    if (!row) return null;
    await tx.query(sql.unsafe`UPDATE developer_tokens SET revoked_at = now() WHERE grant_id = ${row.grant_id} AND revoked_at IS NULL`);
    return { user_id: row.user_id };
  });
}

/** Revokes the grant a token belongs to (its access and refresh token), if it is this developer's. */
export async function revokeDeveloperGrant(db: DatabaseConnection, userId: string, hash: string): Promise<boolean> {
  const rows = await db.anyFirst(sql.type(z.object({ token_hash: z.string() }))`
    UPDATE developer_tokens SET revoked_at = now()
    WHERE grant_id = (SELECT grant_id FROM developer_tokens WHERE token_hash = ${hash} AND user_id = ${userId}) AND revoked_at IS NULL
    RETURNING token_hash`);
  return rows.length > 0;
}

export type ReviewAction = 'submitted' | 'updated' | 'approved' | 'rejected' | 'appealed';

export async function recordReview(db: DatabaseConnection, clientId: string, action: ReviewAction, actor: string, reason: string | null): Promise<void> {
  await db.query(sql.unsafe`INSERT INTO miniapp_reviews (client_id, action, actor, reason) VALUES (${clientId}, ${action}, ${actor}, ${reason})`);
}

export const ReviewRow = z.object({ id: z.bigint().or(z.number()), action: z.string(), actor: z.string(), reason: z.string().nullable(), created_at: z.date() });

export function reviewsOf(db: DatabaseConnection, clientId: string) {
  return db.any(sql.type(ReviewRow)`SELECT id, action, actor, reason, created_at FROM miniapp_reviews WHERE client_id = ${clientId} ORDER BY id`);
}
