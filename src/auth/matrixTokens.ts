import { createHash } from 'node:crypto';
import type { Config } from '../config';
import { CircuitBreaker, PROTO_BREAKER, type BreakerState } from '../domain/circuitBreaker';
import { BREAKER_STATE_VALUE, breakerState } from '../metrics/metrics';
import { DomainError } from '../domain/errors';
import { MatrixRequestError, whoami } from '../matrix/client';

/** Whose Matrix session an access token is: the user's own messenger calls us with it. */
export interface MatrixTokenChecker {
  /** The user id behind the token; 401 INVALID_TOKEN when the homeserver does not know it, 503 when it cannot be asked. */
  userIdOf(accessToken: string): Promise<string>;
}

/** How long a token the checker vouched for is believed without asking again (never past its expiry). */
export const MATRIX_TOKEN_CACHE_MS = 60_000;
const MAX_CACHED_TOKENS = 10_000;

/** Whose session a token is, as the checker answered. */
interface TokenOwner {
  userId: string;
  isGuest: boolean;
  /** When the token expires, where the checker says (MAS does). */
  expiresAtMs?: number;
}

/** The checker does not know the token (or says it is inactive): a 401, and the checker working. */
class TokenRefused extends Error {}

/** A bearer token as HTTP carries one (printable ASCII, RFC 6750's b64token and more), of a sane length. */
const PLAUSIBLE_TOKEN = /^[\x21-\x7e]{1,2048}$/;

interface CheckerOptions {
  now?: () => number;
  cacheMs?: number;
}

/**
 * Answers from `lookup` and remembers them briefly, so a messenger's burst of calls asks once.
 * Tokens are cached by their SHA-256, only when valid, for `cacheMs` and never past their expiry;
 * a logged-out token stays accepted for at most that long. Guests are refused. After 5 failures of
 * the checker among 10 checks (PROTO 7.7) new tokens are answered 503 at once, with Retry-After,
 * until a test check every 10 s after 60 s succeeds.
 */
function rememberingChecker(what: string, lookup: (token: string) => Promise<TokenOwner>, options: CheckerOptions): MatrixTokenChecker {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? MATRIX_TOKEN_CACHE_MS;
  const cache = new Map<string, { userId: string; until: number }>();
  // While the checker keeps failing, callers are answered at once instead of each waiting for it.
  const breaker = new CircuitBreaker(PROTO_BREAKER, now);
  const unavailable = (retryAfterMs: number, state: BreakerState) =>
    new DomainError('SERVICE_UNAVAILABLE', `${what} cannot check Matrix tokens right now; retry`, {
      retry_after_seconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      circuit_state: state,
    });

  return {
    async userIdOf(accessToken) {
      // No homeserver issues such a token, and it could not even be sent in a header: refused here,
      // so it neither reaches the checker nor counts as the checker failing (which would open the breaker).
      if (!PLAUSIBLE_TOKEN.test(accessToken)) throw new DomainError('INVALID_TOKEN', 'Invalid or expired Matrix access token');
      const key = createHash('sha256').update(accessToken).digest('base64url');
      const cached = cache.get(key);
      if (cached && cached.until > now()) return cached.userId;
      cache.delete(key);

      const verdict = breaker.check();
      breakerState.set({ breaker: 'matrix_tokens' }, BREAKER_STATE_VALUE[breaker.state]);
      if (!verdict.allowed) throw unavailable(verdict.retryAfterMs, verdict.state);
      let owner: TokenOwner;
      try {
        owner = await lookup(accessToken);
        breaker.record(true);
      } catch (err) {
        // A refused token is the checker working; anything else is it failing.
        const refused = err instanceof TokenRefused;
        breaker.record(refused);
        breakerState.set({ breaker: 'matrix_tokens' }, BREAKER_STATE_VALUE[breaker.state]);
        if (refused) throw new DomainError('INVALID_TOKEN', 'Invalid or expired Matrix access token');
        throw unavailable(5000, breaker.state);
      }
      if (owner.isGuest) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Guest accounts cannot manage a wallet');
      // Oldest first: Map keeps insertion order, so the first key is the one to drop.
      if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
      cache.set(key, { userId: owner.userId, until: Math.min(now() + cacheMs, owner.expiresAtMs ?? Infinity) });
      return owner.userId;
    },
  };
}

/** `GET /account/whoami` at the homeserver (MATRIX_AUTH_MODE=homeserver). */
export function homeserverTokenChecker(homeserverUrl: string | undefined, options: CheckerOptions = {}): MatrixTokenChecker {
  if (!homeserverUrl) {
    return {
      userIdOf: async () => {
        throw new DomainError('INVALID_TOKEN', 'Matrix access tokens are not accepted: no homeserver is configured');
      },
    };
  }
  return rememberingChecker('The homeserver', async (token) => {
    try {
      return await whoami(homeserverUrl, token);
    } catch (err) {
      if (err instanceof MatrixRequestError && (err.status === 401 || err.status === 403)) throw new TokenRefused();
      throw err;
    }
  }, options);
}

const INTROSPECTION_TIMEOUT_MS = 10_000;
/** The scope of a Matrix client-API session at MAS: the unstable MSC2967 name and the stable one. */
const MATRIX_API_SCOPES = new Set(['urn:matrix:org.matrix.msc2967.client:api:*', 'urn:matrix:client:api:*']);

/**
 * RFC 7662 introspection at the Matrix Authentication Service (MATRIX_AUTH_MODE=mas), with this
 * server's client credentials: the token counts when `active` is true, `sub` is present, `exp`
 * (when given) is ahead and its scope grants the Matrix client API. The user is `@<username>:<server name>` (MAS answers the localpart as
 * `username`), or `sub` when that is already a Matrix user id.
 */
export function masTokenChecker(settings: { introspectionUrl: string; clientId: string; clientSecret: string; serverName: string }, options: CheckerOptions = {}): MatrixTokenChecker {
  const now = options.now ?? Date.now;
  const basic = Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64');
  return rememberingChecker('The authentication service', async (token) => {
    const res = await fetch(settings.introspectionUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`introspection answered ${res.status}`);
    const body = (await res.json()) as { active?: unknown; sub?: unknown; exp?: unknown; username?: unknown; scope?: unknown };
    if (body.active !== true || typeof body.sub !== 'string' || body.sub === '') throw new TokenRefused();
    // Only a token for the Matrix client API (MSC2967) is a messenger's session; MAS also issues
    // tokens to other clients with other scopes (an `openid`-only login, say).
    const scopes = typeof body.scope === 'string' ? body.scope.split(' ') : [];
    if (!scopes.some((s) => MATRIX_API_SCOPES.has(s))) throw new TokenRefused();
    const expiresAtMs = typeof body.exp === 'number' ? body.exp * 1000 : undefined;
    if (expiresAtMs !== undefined && expiresAtMs <= now()) throw new TokenRefused();
    const userId = typeof body.username === 'string' && body.username !== '' ? `@${body.username}:${settings.serverName}` : body.sub;
    if (!/^@[^:]+:.+$/.test(userId)) throw new TokenRefused();
    return { userId, isGuest: false, expiresAtMs };
  }, options);
}

/** The checker the configuration names. */
export function matrixTokenChecker(config: Pick<Config, 'matrix' | 'matrixAuth'>): MatrixTokenChecker {
  return config.matrixAuth.mode === 'mas' ? masTokenChecker(config.matrixAuth) : homeserverTokenChecker(config.matrix?.homeserverUrl);
}
