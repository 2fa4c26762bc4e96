import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { parseScopeString } from '../domain/scopes';
import { newId } from '../ids';
import type { TepKeys } from './keys';

export const TEP_PREFIX = 'tep.';
/** PROTO 4.12: `aud` is the mini-app's client_id or this generic audience. */
export const GENERIC_AUDIENCE = 'tmcp-server';

const TepClaims = z.object({
  iss: z.string(),
  sub: z.string().regex(/^@[^:]+:.+$/),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  iat: z.number(),
  nbf: z.number(),
  jti: z.string().min(1),
  token_type: z.literal('tep_access_token'),
  client_id: z.string().min(1),
  azp: z.string().min(1),
  scope: z.string(),
  wallet_id: z.string().nullable(),
  session_id: z.string().min(1),
  user_context: z.object({ display_name: z.string().optional(), avatar_url: z.string().optional() }).optional(),
  miniapp_context: z.record(z.unknown()).optional(),
  delegated_from: z.string().optional(),
});
export type TepClaims = z.infer<typeof TepClaims>;

export interface TepSubject {
  userId: string;
  clientId: string;
  scopes: readonly string[];
  walletId: string | null;
  sessionId?: string;
  /** PROTO 4.10 `user_context`: how the user appears, from the homeserver profile. */
  userContext?: { display_name?: string; avatar_url?: string };
  miniappContext?: Record<string, unknown>;
  delegatedFrom?: string;
}

export interface IssuedTep {
  token: string;
  jti: string;
  expiresAt: Date;
}

export async function issueTep(
  keys: TepKeys,
  options: { issuer: string; ttlSeconds: number; now?: Date },
  subject: TepSubject,
): Promise<IssuedTep> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const jti = newId('token');
  const exp = now + options.ttlSeconds;
  const payload: JWTPayload & Partial<TepClaims> = {
    token_type: 'tep_access_token',
    client_id: subject.clientId,
    azp: subject.clientId,
    scope: subject.scopes.join(' '),
    wallet_id: subject.walletId,
    session_id: subject.sessionId ?? newId('session'),
    ...(subject.userContext && Object.keys(subject.userContext).length > 0 ? { user_context: subject.userContext } : {}),
    ...(subject.miniappContext ? { miniapp_context: subject.miniappContext } : {}),
    ...(subject.delegatedFrom ? { delegated_from: subject.delegatedFrom } : {}),
  };
  const jwt = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: keys.signing.kid })
    .setIssuer(options.issuer)
    .setSubject(subject.userId)
    .setAudience(subject.clientId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(keys.signing.key);
  return { token: `${TEP_PREFIX}${jwt}`, jti, expiresAt: new Date(exp * 1000) };
}

export interface VerifiedTep {
  claims: TepClaims;
  userId: string;
  clientId: string;
  scopes: Set<string>;
}

const invalid = () => new DomainError('INVALID_TOKEN', 'Invalid or expired TEP token');

/** Verifies signature (RS256, by kid), issuer, time claims, token type and audience (PROTO 4.12). */
export async function verifyTep(keys: TepKeys, token: string, options: { issuer: string; now?: Date }): Promise<VerifiedTep> {
  if (!token.startsWith(TEP_PREFIX)) throw invalid();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token.slice(TEP_PREFIX.length),
      async (header) => {
        const key = header.kid ? keys.verifying.get(header.kid) : undefined;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        issuer: options.issuer,
        algorithms: ['RS256'],
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'],
        clockTolerance: 5,
        currentDate: options.now,
      },
    ));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw invalid();
    throw err;
  }
  const claims = TepClaims.safeParse(payload);
  if (!claims.success) throw invalid();
  const audiences = Array.isArray(claims.data.aud) ? claims.data.aud : [claims.data.aud];
  if (!audiences.some((aud) => aud === claims.data.client_id || aud === GENERIC_AUDIENCE)) throw invalid();
  if (claims.data.azp !== claims.data.client_id) throw invalid();
  // jose checks exp and nbf; PROTO 4.12 also wants iat not in the future.
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (claims.data.iat > now + 5) throw invalid();
  return {
    claims: claims.data,
    userId: claims.data.sub,
    clientId: claims.data.client_id,
    scopes: new Set(parseScopeString(claims.data.scope)),
  };
}

/** Tokens a verifier remembers; a client reuses its token for many calls until it expires. */
const VERIFIED_CACHE_SIZE = 10_000;
/** jose's clockTolerance above: a token is accepted until exp + 5 s. */
const EXP_TOLERANCE_SECONDS = 5;

/**
 * verifyTep behind a bounded cache of tokens that verified, keyed by the whole token: the same bytes
 * verify the same way, so a hit only checks that the token has not expired since. Failures are not
 * remembered. An RS256 check costs the API more CPU than the rest of a GET balance.
 */
export function cachedTepVerifier(keys: TepKeys, issuer: string, now: () => Date = () => new Date(), maxEntries = VERIFIED_CACHE_SIZE) {
  const verified = new Map<string, VerifiedTep>();
  return async (token: string): Promise<VerifiedTep> => {
    const seconds = Math.floor(now().getTime() / 1000);
    const hit = verified.get(token);
    if (hit && hit.claims.exp > seconds - EXP_TOLERANCE_SECONDS) {
      // Map keeps insertion order: moving a hit to the end makes the first entry the least recently used.
      verified.delete(token);
      verified.set(token, hit);
      return hit;
    }
    verified.delete(token);
    const tep = await verifyTep(keys, token, { issuer, now: now() });
    verified.set(token, tep);
    if (verified.size > maxEntries) verified.delete(verified.keys().next().value!);
    return tep;
  };
}
