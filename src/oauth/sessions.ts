import type { Config } from '../config';
import type { TepKeys } from '../auth/keys';
import { issueTep, type TepSubject } from '../auth/tep';
import { matchesHash, newSecret, sha256Hex } from '../crypto/secrets';
import { oauthClientById, type OAuthClient } from '../db/miniapps';
import { insertRefreshToken, insertSession, markRefreshTokenUsed, refreshTokenInfo, revokeSession } from '../db/oauth';
import type { DatabaseConnection, DatabasePool } from '../db/pool';
import { newId } from '../ids';
import type { UserContexts } from '../matrix/profiles';
import { OAuthError } from './errors';

export interface SessionDeps {
  pool: DatabasePool;
  keys: TepKeys;
  config: { tep: Pick<Config['tep'], 'ttlSeconds' | 'refreshTtlSeconds'>; http: Pick<Config['http'], 'publicUrl'> };
  /** The TEP's user_context (homeserver profile); none when absent. */
  userContexts?: UserContexts;
}

/** The client a token request comes from, with its credentials (RFC 6749 2.3). */
export interface ClientCredentials {
  clientId?: string;
  /** `Authorization: Basic` (client_secret_basic), when sent. */
  basic?: { clientId: string; secret: string };
  /** `client_secret` in the form (client_secret_post). */
  postSecret?: string;
}

/**
 * Authenticates the client of a token request: a confidential client (it has a secret) must send
 * it, by Basic or in the form; a public client sends only its client_id. 401 invalid_client otherwise.
 */
export async function authenticateClient(deps: Pick<SessionDeps, 'pool'>, creds: ClientCredentials): Promise<OAuthClient> {
  if (creds.basic && creds.postSecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method');
  if (creds.basic && creds.clientId !== undefined && creds.clientId !== creds.basic.clientId) throw new OAuthError('invalid_client', 'client_id does not match the credentials');
  const clientId = creds.basic?.clientId ?? creds.clientId;
  if (!clientId) throw new OAuthError('invalid_request', 'client_id is required');
  const client = await oauthClientById(deps.pool, clientId);
  if (!client || client.status !== 'active') throw new OAuthError('invalid_client', 'client_id is not an active registered mini-app');
  const presented = creds.basic?.secret ?? creds.postSecret;
  if (client.secret_hash === null) {
    if (presented !== undefined) throw new OAuthError('invalid_client', 'a public client has no secret');
    return client;
  }
  if (presented === undefined || !matchesHash(presented, client.secret_hash)) throw new OAuthError('invalid_client', 'client authentication failed');
  return client;
}

export interface Grant {
  userId: string;
  clientId: string;
  scopes: readonly string[];
  walletId: string;
  miniappContext?: Record<string, unknown>;
  delegatedFrom?: string;
}

/** Records a new session (a token family) and its first refresh token, within the caller's transaction. */
export async function recordSession(tx: DatabaseConnection, deps: Pick<SessionDeps, 'config'>, grant: Grant) {
  const sessionId = newId('session');
  const refresh = newSecret('rt');
  await insertSession(tx, { id: sessionId, userId: grant.userId, clientId: grant.clientId, scopes: grant.scopes, walletId: grant.walletId });
  await insertRefreshToken(tx, refresh.hash, sessionId, deps.config.tep.refreshTtlSeconds);
  return { sessionId, refreshToken: refresh.secret };
}

/**
 * A TEP of a session, the one way every grant mints one. The user's profile (PROTO 4.10
 * `user_context`: display name, avatar) goes into the token only when it carries `user:read`.
 */
async function mintTep(deps: SessionDeps, subject: Omit<TepSubject, 'userContext'>) {
  const userContext = subject.scopes.includes('user:read') ? await deps.userContexts?.(subject.userId) : undefined;
  return issueTep(deps.keys, { issuer: deps.config.http.publicUrl, ttlSeconds: deps.config.tep.ttlSeconds }, { ...subject, userContext });
}

/** The token response of a recorded session: its first TEP and refresh token (RFC 6749 5.1). */
export async function sessionTokens(deps: SessionDeps, grant: Grant, recorded: { sessionId: string; refreshToken: string }) {
  const issued = await mintTep(deps, {
    userId: grant.userId,
    clientId: grant.clientId,
    scopes: grant.scopes,
    walletId: grant.walletId,
    sessionId: recorded.sessionId,
    miniappContext: grant.miniappContext,
    delegatedFrom: grant.delegatedFrom,
  });
  return { access_token: issued.token, token_type: 'Bearer' as const, expires_in: deps.config.tep.ttlSeconds, refresh_token: recorded.refreshToken, scope: grant.scopes.join(' ') };
}

/** A TEP and a refresh token for one grant: the start of a session. */
export async function startSession(deps: SessionDeps, grant: Grant) {
  const recorded = await deps.pool.transaction((tx) => recordSession(tx, deps, grant));
  return sessionTokens(deps, grant, recorded);
}

/**
 * The refresh grant (RFC 6749 6, PROTO 4.14): the refresh token is used up and a new one of the
 * same session answered with a new TEP. A token presented a second time means it leaked: the whole
 * session is revoked (its refresh tokens and, within seconds, its TEPs) and the call refused.
 */
export async function refreshSession(deps: SessionDeps, client: OAuthClient, refreshToken: string, scope?: string) {
  const hash = sha256Hex(refreshToken);
  const next = newSecret('rt');
  const outcome = await deps.pool.transaction(async (tx) => {
    const presented = await refreshTokenInfo(tx, hash, true);
    if (!presented || presented.client_id !== client.client_id) return { kind: 'refused', reason: 'refresh_token is not valid for this client' } as const;
    if (presented.revoked_at) return { kind: 'refused', reason: 'the session of this refresh token was revoked' } as const;
    if (presented.used_at) {
      await revokeSession(tx, presented.id);
      return { kind: 'refused', reason: 'refresh_token was already used: the session is revoked' } as const;
    }
    if (presented.expired) return { kind: 'refused', reason: 'refresh_token has expired' } as const;
    // Scopes the app is no longer registered for are dropped; a narrower `scope` narrows this TEP only.
    const held = presented.scopes.filter((s) => client.scopes.includes(s));
    const requested = scope === undefined ? held : scope.split(' ').filter(Boolean);
    const beyond = requested.filter((s) => !held.includes(s));
    if (beyond.length > 0) return { kind: 'invalid_scope', beyond } as const;
    await markRefreshTokenUsed(tx, hash);
    await insertRefreshToken(tx, next.hash, presented.id, deps.config.tep.refreshTtlSeconds);
    return { kind: 'rotated', session: presented, scopes: requested } as const;
  });
  if (outcome.kind === 'refused') throw new OAuthError('invalid_grant', outcome.reason);
  if (outcome.kind === 'invalid_scope') throw new OAuthError('invalid_scope', `beyond the original grant: ${outcome.beyond.join(' ')}`);
  const { session, scopes } = outcome;
  const issued = await mintTep(deps, { userId: session.user_id, clientId: session.client_id, scopes, walletId: session.wallet_id, sessionId: session.id });
  return { access_token: issued.token, token_type: 'Bearer' as const, expires_in: deps.config.tep.ttlSeconds, refresh_token: next.secret, scope: scopes.join(' ') };
}
