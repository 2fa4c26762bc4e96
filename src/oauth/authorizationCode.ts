import { createHash } from 'node:crypto';
import { newSecret, sha256Hex } from '../crypto/secrets';
import { consentsOf, recordConsents } from '../db/consents';
import { oauthClientById, type OAuthClient } from '../db/miniapps';
import { insertAuthorizationCode, lockAuthorizationCode, markCodeRedeemed, revokeSession } from '../db/oauth';
import { authorizeScopes, parseScopeString, registeredInOrder, type Scope } from '../domain/scopes';
import { registerWallet, type WalletDeps } from '../wallet/wallets';
import { OAuthError } from './errors';
import { recordSession, sessionTokens, type SessionDeps } from './sessions';

/** RFC 6749 10.5 asks for a short life; a minute is plenty for a redirect and one token request. */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export type AuthorizeParams = Partial<Record<'client_id' | 'redirect_uri' | 'response_type' | 'scope' | 'state' | 'code_challenge' | 'code_challenge_method', string>>;

/** A request whose client and redirect URI are trusted: errors from here on go back to the app. */
export interface AuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  scopes: Scope[];
  state?: string;
  codeChallenge: string;
}

export type CheckedRequest =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** The client or redirect URI cannot be trusted: shown on a page, never redirected to (RFC 6749 4.1.2.1). */
  | { kind: 'page'; message: string }
  | { kind: 'redirect'; location: string };

/** The redirect back to the app with `params` (and its state), RFC 6749 4.1.2. */
export function redirectBack(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

/** RFC 6749 4.1.1 and RFC 7636 4.3: checks an authorization request, in the order the RFC's error rules need. */
export async function checkAuthorizationRequest(deps: Pick<SessionDeps, 'pool'>, params: AuthorizeParams): Promise<CheckedRequest> {
  const client = params.client_id ? await oauthClientById(deps.pool, params.client_id) : null;
  if (!client || client.status !== 'active') return { kind: 'page', message: 'This mini-app is not registered, or it is suspended.' };
  if (!params.redirect_uri || !client.redirect_uris.includes(params.redirect_uri)) {
    return { kind: 'page', message: 'The redirect_uri is not one this mini-app registered.' };
  }
  const back = (error: string, description: string): CheckedRequest => ({
    kind: 'redirect',
    location: redirectBack(params.redirect_uri!, { error, error_description: description, state: params.state }),
  });
  if (params.response_type !== 'code') return back('unsupported_response_type', 'response_type must be code');
  if (params.code_challenge_method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256 (PKCE is required)');
  if (!params.code_challenge || !CODE_CHALLENGE.test(params.code_challenge)) return back('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters)');
  const requested = params.scope === undefined ? client.pre_approved_scopes : parseScopeString(params.scope);
  const decision = authorizeScopes({ requested, registered: client.scopes, preApproved: [], approved: [] });
  const refused = [...decision.denied.map((d) => d.scope), ...decision.matrix];
  if (refused.length > 0) return back('invalid_scope', `not registered for this mini-app: ${refused.join(' ')}`);
  if (requested.length === 0) return back('invalid_scope', 'no scope requested');
  return {
    kind: 'ok',
    request: { client, redirectUri: params.redirect_uri, scopes: registeredInOrder(requested, decision), state: params.state, codeChallenge: params.code_challenge },
  };
}

/** The scopes of the request this user still has to approve (sensitive, not pre-approved, not approved before). */
export async function scopesToApprove(deps: Pick<SessionDeps, 'pool'>, request: AuthorizationRequest, userId: string): Promise<Scope[]> {
  const approved = (await consentsOf(deps.pool, userId, request.client.client_id)).map((c) => c.scope);
  return authorizeScopes({ requested: request.scopes, registered: request.client.scopes, preApproved: request.client.pre_approved_scopes, approved }).consentRequired;
}

/**
 * The user approved (or had nothing to approve): their consent is recorded, their wallet resolved
 * or created, and a single-use code issued. Answers the redirect back to the app.
 */
export async function issueAuthorizationCode(deps: Pick<SessionDeps, 'pool'> & WalletDeps, request: AuthorizationRequest, userId: string): Promise<string> {
  await recordConsents(deps.pool, userId, request.client.client_id, request.scopes);
  const { wallet } = await registerWallet(deps, userId);
  const code = newSecret('ac');
  await insertAuthorizationCode(deps.pool, {
    hash: code.hash,
    clientId: request.client.client_id,
    userId,
    walletId: wallet.id,
    scopes: request.scopes,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    ttlSeconds: AUTHORIZATION_CODE_TTL_SECONDS,
  });
  return redirectBack(request.redirectUri, { code: code.secret, state: request.state });
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * RFC 6749 4.1.3 with PKCE: the code, once, by the client it was issued to, with the same
 * redirect_uri and the verifier of its challenge. A code presented again means it leaked: the
 * session it gave is revoked (RFC 6749 4.1.2) and the request refused.
 */
export async function redeemAuthorizationCode(deps: SessionDeps, client: OAuthClient, req: { code: string; redirectUri?: string; codeVerifier?: string }) {
  if (req.codeVerifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  if (!CODE_VERIFIER.test(req.codeVerifier)) throw new OAuthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters');
  const hash = sha256Hex(req.code);
  const outcome = await deps.pool.transaction(async (tx) => {
    const row = await lockAuthorizationCode(tx, hash);
    if (!row || row.client_id !== client.client_id) return { kind: 'refused', reason: 'code is not valid for this client' } as const;
    if (row.redeemed_at) {
      if (row.session_id) await revokeSession(tx, row.session_id);
      return { kind: 'refused', reason: 'code was already used: the tokens it gave are revoked' } as const;
    }
    if (row.expired) return { kind: 'refused', reason: 'code has expired' } as const;
    if (req.redirectUri !== row.redirect_uri) return { kind: 'refused', reason: 'redirect_uri does not match the authorization request' } as const;
    if (s256(req.codeVerifier!) !== row.code_challenge) return { kind: 'refused', reason: 'code_verifier does not match the code_challenge' } as const;
    const grant = { userId: row.user_id, clientId: row.client_id, scopes: row.scopes, walletId: row.wallet_id };
    const recorded = await recordSession(tx, deps, grant);
    await markCodeRedeemed(tx, hash, recorded.sessionId);
    return { kind: 'redeemed', grant, recorded } as const;
  });
  if (outcome.kind === 'refused') throw new OAuthError('invalid_grant', outcome.reason);
  const tokens = await sessionTokens(deps, outcome.grant, outcome.recorded);
  return { ...tokens, user_id: outcome.grant.userId, wallet_id: outcome.grant.walletId };
}
