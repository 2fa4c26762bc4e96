import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

/**
 * Claims the exchange of one Matrix token for one client: true the first time within `windowMs`,
 * false for a replay. One statement, so concurrent replays cannot both pass.
 */
export async function claimTokenExchange(db: DatabaseConnection, subjectHash: string, clientId: string, windowMs: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ client_id: z.string() }))`
    INSERT INTO token_exchanges AS e (subject_hash, client_id) VALUES (${subjectHash}, ${clientId})
    ON CONFLICT (subject_hash, client_id) DO UPDATE SET exchanged_at = now()
      WHERE e.exchanged_at < now() - ${windowMs} * interval '1 millisecond'
    RETURNING client_id`);
  return row !== null;
}

const SessionRow = z.object({
  id: z.string(),
  user_id: z.string(),
  client_id: z.string(),
  scopes: z.array(z.string()),
  wallet_id: z.string().nullable(),
  revoked_at: z.date().nullable(),
});
export type OAuthSession = z.infer<typeof SessionRow>;

export async function insertSession(
  db: DatabaseConnection,
  session: { id: string; userId: string; clientId: string; scopes: readonly string[]; walletId: string },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO oauth_sessions (id, user_id, client_id, scopes, wallet_id)
    VALUES (${session.id}, ${session.userId}, ${session.clientId}, ${sql.array([...session.scopes], 'text')}, ${session.walletId})`);
}

export async function insertRefreshToken(db: DatabaseConnection, tokenHash: string, sessionId: string, ttlSeconds: number): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    VALUES (${tokenHash}, ${sessionId}, now() + ${ttlSeconds} * interval '1 second')`);
}

const RefreshTokenRow = z.object({ used_at: z.date().nullable(), expires_at: z.date(), expired: z.boolean() }).merge(SessionRow);

/** A refresh token and its session; null when unknown. `lock` holds both rows for the transaction. */
export function refreshTokenInfo(db: DatabaseConnection, tokenHash: string, lock = false) {
  return db.maybeOne(sql.type(RefreshTokenRow)`
    SELECT r.used_at, r.expires_at, r.expires_at <= now() AS expired, s.id, s.user_id, s.client_id, s.scopes, s.wallet_id, s.revoked_at
    FROM refresh_tokens r JOIN oauth_sessions s ON s.id = r.session_id
    WHERE r.token_hash = ${tokenHash}
    ${lock ? sql.fragment`FOR UPDATE OF r, s` : sql.fragment``}`);
}

export async function markRefreshTokenUsed(db: DatabaseConnection, tokenHash: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE refresh_tokens SET used_at = now() WHERE token_hash = ${tokenHash}`);
}

export async function revokeSession(db: DatabaseConnection, sessionId: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE oauth_sessions SET revoked_at = now() WHERE id = ${sessionId} AND revoked_at IS NULL`);
}

/** Whether the session was revoked; a session this server never recorded (npm run token) is not. */
export async function isSessionRevoked(db: DatabaseConnection, sessionId: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM oauth_sessions WHERE id = ${sessionId} AND revoked_at IS NOT NULL`);
  return row !== null;
}

/** Revokes every live session of the user with the client; answers them with their scopes. */
export function revokeSessionsOf(db: DatabaseConnection, userId: string, clientId: string) {
  return db.any(sql.type(z.object({ id: z.string(), scopes: z.array(z.string()) }))`
    UPDATE oauth_sessions SET revoked_at = now()
    WHERE user_id = ${userId} AND client_id = ${clientId} AND revoked_at IS NULL
    RETURNING id, scopes`);
}

/** Revokes the session a TEP names, recording it first when this server never did (a token minted outside a grant). */
export async function revokeTokenSession(
  db: DatabaseConnection,
  session: { id: string; userId: string; clientId: string; scopes: readonly string[]; walletId: string | null },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO oauth_sessions (id, user_id, client_id, scopes, wallet_id, revoked_at)
    VALUES (${session.id}, ${session.userId}, ${session.clientId}, ${sql.array([...session.scopes], 'text')}, ${session.walletId}, now())
    ON CONFLICT (id) DO UPDATE SET revoked_at = coalesce(oauth_sessions.revoked_at, now())`);
}

export async function insertAuthorizationCode(
  db: DatabaseConnection,
  code: { hash: string; clientId: string; userId: string; walletId: string; scopes: readonly string[]; redirectUri: string; codeChallenge: string; ttlSeconds: number },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO authorization_codes (code_hash, client_id, user_id, wallet_id, scopes, redirect_uri, code_challenge, expires_at)
    VALUES (${code.hash}, ${code.clientId}, ${code.userId}, ${code.walletId}, ${sql.array([...code.scopes], 'text')}, ${code.redirectUri},
            ${code.codeChallenge}, now() + ${code.ttlSeconds} * interval '1 second')`);
}

/**
 * The sweeper's part: rows kept only for a while. Authorization codes live a minute and are kept a
 * day for the reuse check; user-code lookups count for 15 minutes.
 */
export async function purgeOAuthLeftovers(db: DatabaseConnection): Promise<number> {
  const codes = await db.query(sql.unsafe`DELETE FROM authorization_codes WHERE expires_at < now() - interval '1 day'`);
  const lookups = await db.query(sql.unsafe`DELETE FROM user_code_lookups WHERE minute < now() - interval '1 day'`);
  // A device grant's workflow ends within twice its life; a day later nothing asks for it.
  const grants = await db.query(sql.unsafe`DELETE FROM device_grants WHERE expires_at < now() - interval '1 day'`);
  return codes.rowCount + lookups.rowCount + grants.rowCount;
}

const AuthorizationCodeRow = z.object({
  client_id: z.string(),
  user_id: z.string(),
  wallet_id: z.string(),
  scopes: z.array(z.string()),
  redirect_uri: z.string(),
  code_challenge: z.string(),
  expired: z.boolean(),
  redeemed_at: z.date().nullable(),
  session_id: z.string().nullable(),
});

/** A code, locked for the transaction that redeems it; null when unknown. */
export function lockAuthorizationCode(db: DatabaseConnection, codeHash: string) {
  return db.maybeOne(sql.type(AuthorizationCodeRow)`
    SELECT client_id, user_id, wallet_id, scopes, redirect_uri, code_challenge, expires_at <= now() AS expired, redeemed_at, session_id
    FROM authorization_codes WHERE code_hash = ${codeHash} FOR UPDATE`);
}

export async function markCodeRedeemed(db: DatabaseConnection, codeHash: string, sessionId: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE authorization_codes SET redeemed_at = now(), session_id = ${sessionId} WHERE code_hash = ${codeHash}`);
}
