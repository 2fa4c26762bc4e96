import type { TepKeys } from '../auth/keys';
import { sha256Hex } from '../crypto/secrets';
import { verifyTep, TEP_PREFIX, type VerifiedTep } from '../auth/tep';
import { miniappStatus, type OAuthClient } from '../db/miniapps';
import { isSessionRevoked, refreshTokenInfo, revokeSession, revokeTokenSession } from '../db/oauth';
import type { DatabasePool } from '../db/pool';
import { OAuthError } from './errors';

export interface ClientTokenDeps {
  pool: DatabasePool;
  keys: TepKeys;
  config: { http: { publicUrl: string } };
}

const REFRESH_PREFIX = 'rt_';

/** The clients whose tokens `client` may ask about: its own, and a backend twin's front-end app's. */
function ownersFor(client: OAuthClient): Set<string> {
  return new Set([client.client_id, ...(client.backend_of ? [client.backend_of] : [])]);
}

async function verifiedTep(deps: ClientTokenDeps, token: string): Promise<VerifiedTep | undefined> {
  try {
    return await verifyTep(deps.keys, token, { issuer: deps.config.http.publicUrl });
  } catch {
    return undefined;
  }
}

/**
 * Token introspection (RFC 7662) for confidential clients: whether a TEP or refresh token of the
 * client (or, for a backend twin, of its app) is active, with its claims. Anything else, any
 * unknown, expired or revoked token, is `{active: false}`.
 */
export async function introspectToken(deps: ClientTokenDeps, client: OAuthClient, token: string) {
  if (client.secret_hash === null) throw new OAuthError('invalid_client', 'introspection is for confidential clients');
  const owners = ownersFor(client);
  const inactive = { active: false } as const;
  if (token.startsWith(TEP_PREFIX)) {
    const tep = await verifiedTep(deps, token);
    if (!tep || !owners.has(tep.clientId)) return inactive;
    if ((await miniappStatus(deps.pool, tep.clientId)) !== 'active' || (await isSessionRevoked(deps.pool, tep.claims.session_id))) return inactive;
    const { claims } = tep;
    return {
      active: true as const,
      token_type: 'access_token' as const,
      scope: claims.scope,
      client_id: claims.client_id,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      nbf: claims.nbf,
      jti: claims.jti,
      session_id: claims.session_id,
      wallet_id: claims.wallet_id,
    };
  }
  if (token.startsWith(REFRESH_PREFIX)) {
    const info = await refreshTokenInfo(deps.pool, sha256Hex(token));
    if (!info || !owners.has(info.client_id) || info.used_at || info.expired || info.revoked_at) return inactive;
    return {
      active: true as const,
      token_type: 'refresh_token' as const,
      scope: info.scopes.join(' '),
      client_id: info.client_id,
      sub: info.user_id,
      exp: Math.floor(info.expires_at.getTime() / 1000),
      session_id: info.id,
    };
  }
  return inactive;
}

/**
 * Token revocation (RFC 7009): a client revokes a refresh token or TEP of its own (a backend twin,
 * of its app's too), and with it the whole session (2.1: the grant's other tokens too). A token
 * that is not the client's, unknown or expired is answered the same, so the answer tells nothing
 * about other clients' tokens.
 */
export async function revokeToken(deps: ClientTokenDeps, client: OAuthClient, token: string): Promise<void> {
  const owners = ownersFor(client);
  if (token.startsWith(REFRESH_PREFIX)) {
    const info = await refreshTokenInfo(deps.pool, sha256Hex(token));
    if (info && owners.has(info.client_id)) await revokeSession(deps.pool, info.id);
    return;
  }
  if (token.startsWith(TEP_PREFIX)) {
    const tep = await verifiedTep(deps, token);
    if (!tep || !owners.has(tep.clientId)) return;
    await revokeTokenSession(deps.pool, {
      id: tep.claims.session_id,
      userId: tep.userId,
      clientId: tep.clientId,
      scopes: [...tep.scopes],
      walletId: tep.claims.wallet_id ?? null,
    });
  }
}
