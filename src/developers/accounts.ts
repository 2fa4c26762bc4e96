import { randomUUID } from 'node:crypto';
import type { MatrixTokenChecker } from '../auth/matrixTokens';
import { newSecret, sha256Hex } from '../crypto/secrets';
import { developerById, enrollDeveloper, insertDeveloperTokens, listDevelopers, liveDeveloperToken, revokeDeveloper, revokeDeveloperGrant, spendRefreshToken, type Developer } from '../db/developers';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import { OAuthError } from '../oauth/errors';
import { ACCESS_TOKEN_TYPE, subjectUser } from '../oauth/tokenExchange';

/** PROTO 4.4.8: a developer token lives at most 24 hours; its refresh token is single-use. */
export const DEVELOPER_TOKEN_SECONDS = 24 * 3600;
const REFRESH_SECONDS = 30 * 24 * 3600;

export interface DeveloperDeps {
  pool: DatabasePool;
}

function developerView(d: Developer) {
  return { developer_id: d.user_id, status: d.status, roles: ['developer'], created_at: d.created_at.toISOString(), ...(d.revoked_at ? { revoked_at: d.revoked_at.toISOString() } : {}) };
}

/**
 * A developer token and its refresh token (PROTO 4.4.3's answer). Opaque, not JWTs: they are kept
 * as hashes only and checked against the database on every call, so a revocation (by the developer
 * or an operator) stops them at once, as PROTO 4.4.8 asks.
 */
async function issueTokens(deps: DeveloperDeps, userId: string) {
  const access = newSecret('dev');
  const refresh = newSecret('rtdev');
  const now = Date.now();
  const kept = await insertDeveloperTokens(deps.pool, userId, randomUUID(), [
    { hash: access.hash, kind: 'access', expiresAt: new Date(now + DEVELOPER_TOKEN_SECONDS * 1000) },
    { hash: refresh.hash, kind: 'refresh', expiresAt: new Date(now + REFRESH_SECONDS * 1000) },
  ]);
  if (!kept) throw new OAuthError('developer_not_whitelisted', `${userId} is not an enrolled developer; ask an operator`);
  return {
    access_token: access.secret,
    token_type: 'Bearer' as const,
    expires_in: DEVELOPER_TOKEN_SECONDS,
    refresh_token: refresh.secret,
    developer_id: userId,
    roles: ['developer'],
  };
}

/** An operator enrolls a Matrix user as a developer (PROTO 4.4's whitelist) and hands them their first token, shown once. */
export async function enroll(deps: DeveloperDeps, userId: string) {
  const developer = await enrollDeveloper(deps.pool, userId);
  return { ...developerView(developer), ...(await issueTokens(deps, userId)) };
}

export async function developers(deps: DeveloperDeps) {
  return { developers: (await listDevelopers(deps.pool)).map(developerView) };
}

/** An operator takes a developer off the whitelist: every token stops; their apps stay, for the operator to decide. */
export async function unenroll(deps: DeveloperDeps, userId: string) {
  const developer = await revokeDeveloper(deps.pool, userId);
  if (!developer) throw new DomainError('NOT_FOUND', 'No such developer', { developer_id: userId });
  return developerView(developer);
}

/**
 * A developer token on request (PROTO 4.4.3): the developer's own Matrix access token, checked at
 * the homeserver (or MAS) as the messenger's are, for a user an operator enrolled; anyone else is
 * `developer_not_whitelisted`. (PROTO's portal goes through MAS's authorization code; this server
 * accepts the Matrix token that flow ends with, so a portal or a script can use it alike.)
 */
export async function developerTokenForMatrixUser(deps: DeveloperDeps & { matrixTokens: MatrixTokenChecker }, matrixToken: string, tokenType: string) {
  if (tokenType !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  // The checker's refusals and outages answered as at the token endpoint (an outage: 503 with Retry-After).
  const userId = await subjectUser(deps, matrixToken);
  const developer = await developerById(deps.pool, userId);
  if (developer?.status !== 'active') throw new OAuthError('developer_not_whitelisted', `${userId} is not an enrolled developer; ask an operator`);
  return issueTokens(deps, userId);
}

/** A new token pair for a refresh token, which is spent (single use). */
export async function refreshDeveloperToken(deps: DeveloperDeps, refreshToken: string) {
  const spent = await spendRefreshToken(deps.pool, sha256Hex(refreshToken));
  if (!spent) throw new OAuthError('invalid_grant', 'refresh_token is not a live developer refresh token');
  const { developer_id, access_token, token_type, expires_in, refresh_token } = await issueTokens(deps, spent.user_id);
  return { access_token, token_type, expires_in, refresh_token, developer_id };
}

/** PROTO 4.4.7: the developer revokes a token of theirs (and the one issued with it). */
export async function logout(deps: DeveloperDeps, userId: string, token: string) {
  const revoked = await revokeDeveloperGrant(deps.pool, userId, sha256Hex(token));
  return { revoked, message: revoked ? 'Developer token and refresh token have been revoked' : 'No such token of yours; nothing to revoke' };
}

/** The developer a bearer token belongs to, or 401 INVALID_TOKEN. */
export async function developerOfToken(deps: DeveloperDeps, token: string | undefined): Promise<string> {
  if (!token) throw new DomainError('INVALID_TOKEN', 'Missing developer token');
  if (!token.startsWith('dev_') || token.length > 128) throw new DomainError('INVALID_TOKEN', 'Not a developer token');
  const live = await liveDeveloperToken(deps.pool, sha256Hex(token), 'access');
  if (!live) throw new DomainError('INVALID_TOKEN', 'The developer token is invalid, expired or revoked');
  return live.user_id;
}
