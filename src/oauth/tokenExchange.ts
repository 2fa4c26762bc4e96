import type { Config } from '../config';
import type { TepKeys } from '../auth/keys';
import type { MatrixTokenChecker } from '../auth/matrixTokens';
import { sha256Hex } from '../crypto/secrets';
import { consentsOf } from '../db/consents';
import { miniappById } from '../db/miniapps';
import { claimTokenExchange } from '../db/oauth';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import { authorizeScopes } from '../domain/scopes';
import { registerWallet } from '../wallet/wallets';
import { OAuthError } from './errors';
import { startSession } from './sessions';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const TEP_TOKEN_TYPE = 'urn:tmcp:params:oauth:token-type:tep' as const;
/** PROTO 4.9.3: one exchange of a Matrix token per client within this window (the introspection cache window). */
export const EXCHANGE_WINDOW_MS = 5 * 60_000;

export interface TokenExchangeDeps {
  pool: DatabasePool;
  keys: TepKeys;
  config: Pick<Config, 'wallet' | 'tep' | 'http'>;
  matrixTokens: MatrixTokenChecker;
}

export interface TokenExchangeRequest {
  subjectToken: string;
  subjectTokenType: string;
  requestedTokenType?: string;
  clientId: string;
  /** Space-separated; absent: the app's pre-approved scopes (RFC 6749 3.3 default). */
  scope?: string;
  miniappContext?: Record<string, unknown>;
}

/** The Matrix user behind the subject token, with the checker's refusals as OAuth errors. */
export async function subjectUser(deps: Pick<TokenExchangeDeps, 'matrixTokens'>, token: string): Promise<string> {
  try {
    return await deps.matrixTokens.userIdOf(token);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (err.code === 'SERVICE_UNAVAILABLE') {
      const retryAfter = typeof err.details?.retry_after_seconds === 'number' ? err.details.retry_after_seconds : 5;
      throw new OAuthError('temporarily_unavailable', 'Matrix tokens cannot be checked right now; retry', {}, retryAfter);
    }
    // PROTO 12.3 answers an invalid Matrix token with 401 (RFC 6749 would say 400): its wording and status.
    if (err.code === 'INVALID_TOKEN') throw new OAuthError('invalid_subject_token', 'Matrix token is invalid or expired');
    throw new OAuthError('invalid_grant', err.message);
  }
}

/**
 * Matrix Session Delegation (PROTO 4.3.1, RFC 8693): the user's Matrix access token becomes a TEP
 * for the mini-app, with the scopes it may have without asking (pre-approved, needing no consent,
 * or approved before), or a `consent_required` answer naming the rest.
 */
export async function exchangeMatrixToken(deps: TokenExchangeDeps, req: TokenExchangeRequest) {
  if (req.subjectTokenType !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (req.requestedTokenType !== undefined && req.requestedTokenType !== TEP_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', `requested_token_type must be ${TEP_TOKEN_TYPE}`);
  }
  const app = await miniappById(deps.pool, req.clientId);
  if (!app || app.status !== 'active') throw new OAuthError('invalid_client', 'client_id is not an active registered mini-app');
  const userId = await subjectUser(deps, req.subjectToken);

  const requested = req.scope === undefined ? app.pre_approved_scopes : req.scope.split(' ').filter(Boolean);
  const approved = (await consentsOf(deps.pool, userId, app.client_id)).map((c) => c.scope);
  const decision = authorizeScopes({ requested, registered: app.scopes, preApproved: app.pre_approved_scopes, approved });
  if (decision.denied.length > 0) {
    throw new OAuthError('invalid_scope', `Not registered for ${app.client_id}: ${decision.denied.map((d) => d.scope).join(' ')}`, {
      denied_scopes: decision.denied,
    });
  }
  if (decision.consentRequired.length > 0) {
    throw new OAuthError('consent_required', 'User must approve sensitive scopes', {
      consent_required_scopes: decision.consentRequired,
      pre_approved_scopes: decision.granted,
      consent_ui_endpoint: '/api/v1/oauth/consent',
    });
  }
  // Claimed only now: a consent_required answer leaves the token usable for the retry after consent.
  const subjectHash = sha256Hex(req.subjectToken);
  if (!(await claimTokenExchange(deps.pool, subjectHash, app.client_id, EXCHANGE_WINDOW_MS))) {
    throw new OAuthError('invalid_grant', `subject_token was already exchanged for ${app.client_id}; a Matrix token is exchanged once`);
  }

  const { wallet } = await registerWallet(deps, userId);
  const tokens = await startSession(deps, {
    userId,
    clientId: app.client_id,
    scopes: decision.granted,
    walletId: wallet.id,
    miniappContext: req.miniappContext,
    delegatedFrom: 'matrix_session',
  });
  return { ...tokens, issued_token_type: TEP_TOKEN_TYPE, user_id: userId, wallet_id: wallet.id, delegated_session: true as const };
}
