import { createHash } from 'node:crypto';
import type { TepKeys } from '../auth/keys';
import { verifyTep, TEP_PREFIX, type VerifiedTep } from '../auth/tep';
import { miniappRecord, miniappStatus, type Miniapp } from '../db/miniapps';
import { isSessionRevoked, refreshTokenInfo, revokeSession, revokeTokenSession } from '../db/oauth';
import type { DatabasePool } from '../db/pool';
import { OAuthError } from './errors';

export interface ClientTokenDeps {
  pool: DatabasePool;
  keys: TepKeys;
  config: { http: { publicUrl: string } };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const REFRESH_PREFIX = 'rt_';

/** The clients whose tokens `client` may ask about: its own, and a backend twin's front-end app's. */
async function ownersFor(deps: Pick<ClientTokenDeps, 'pool'>, client: Miniapp): Promise<Set<string>> {
  const record = await miniappRecord(deps.pool, client.client_id);
  return new Set([client.client_id, ...(record?.backend_of ? [record.backend_of] : [])]);
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
export async function introspectToken(deps: ClientTokenDeps, client: Miniapp & { confidential: boolean }, token: string) {
  if (!client.confidential) throw new OAuthError('invalid_client', 'introspection is for confidential clients', 401);
  const owners = await ownersFor(deps, client);
  const inactive = { active: false };
  if (token.startsWith(TEP_PREFIX)) {
    const tep = await verifiedTep(deps, token);
    if (!tep || !owners.has(tep.clientId)) return inactive;
    if ((await miniappStatus(deps.pool, tep.clientId)) !== 'active' || (await isSessionRevoked(deps.pool, tep.claims.session_id))) return inactive;
    const { claims } = tep;
    return {
      active: true,
      token_type: 'access_token',
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
    const info = await refreshTokenInfo(deps.pool, sha256(token));
    if (!info || !owners.has(info.client_id) || info.used_at || info.expired || info.revoked_at) return inactive;
    return {
      active: true,
      token_type: 'refresh_token',
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
 * Token revocation (RFC 7009): a client revokes a refresh token or TEP of its own, and with it the
 * whole session (2.1: the grant's other tokens too). A token that is not the client's, unknown or
 * expired is answered the same, so the answer tells nothing about other clients' tokens.
 */
export async function revokeToken(deps: ClientTokenDeps, client: Miniapp, token: string): Promise<void> {
  if (token.startsWith(REFRESH_PREFIX)) {
    const info = await refreshTokenInfo(deps.pool, sha256(token));
    if (info && info.client_id === client.client_id) await revokeSession(deps.pool, info.id);
    return;
  }
  if (token.startsWith(TEP_PREFIX)) {
    const tep = await verifiedTep(deps, token);
    if (!tep || tep.clientId !== client.client_id) return;
    await revokeTokenSession(deps.pool, {
      id: tep.claims.session_id,
      userId: tep.userId,
      clientId: tep.clientId,
      scopes: [...tep.scopes],
      walletId: tep.claims.wallet_id ?? null,
    });
  }
}
