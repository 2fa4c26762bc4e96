import { createHash } from 'node:crypto';
import { CircuitBreaker, PROTO_BREAKER, type BreakerState } from '../domain/circuitBreaker';
import { DomainError } from '../domain/errors';
import { MatrixRequestError, whoami } from '../matrix/client';

/** Whose Matrix session an access token is: the user's own messenger calls us with it. */
export interface MatrixTokenChecker {
  /** The user id behind the token; 401 INVALID_TOKEN when the homeserver does not know it, 503 when it cannot be asked. */
  userIdOf(accessToken: string): Promise<string>;
}

/** How long a token the homeserver vouched for is believed without asking again. */
export const MATRIX_TOKEN_CACHE_MS = 60_000;
const MAX_CACHED_TOKENS = 10_000;

/**
 * Checks Matrix access tokens at the homeserver (`GET /account/whoami`) and remembers the answer
 * briefly, so a messenger's burst of calls asks once. Tokens are cached by their SHA-256, only
 * when valid; a logged-out token stays accepted for at most MATRIX_TOKEN_CACHE_MS. Guests are refused.
 * After 5 failures of the homeserver among 10 checks (PROTO 7.7) new tokens are answered 503 at
 * once, with Retry-After, until a test check every 10 s after 60 s succeeds.
 */
export function homeserverTokenChecker(homeserverUrl: string | undefined, options: { now?: () => number; cacheMs?: number } = {}): MatrixTokenChecker {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? MATRIX_TOKEN_CACHE_MS;
  const cache = new Map<string, { userId: string; until: number }>();
  // While the homeserver keeps failing, callers are answered at once instead of each waiting for it.
  const breaker = new CircuitBreaker(PROTO_BREAKER, now);
  const unavailable = (retryAfterMs: number, state: BreakerState) =>
    new DomainError('SERVICE_UNAVAILABLE', 'The homeserver cannot check Matrix tokens right now; retry', {
      retry_after_seconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      circuit_state: state,
    });

  return {
    async userIdOf(accessToken) {
      if (!homeserverUrl) throw new DomainError('INVALID_TOKEN', 'Matrix access tokens are not accepted: no homeserver is configured');
      const key = createHash('sha256').update(accessToken).digest('base64url');
      const cached = cache.get(key);
      if (cached && cached.until > now()) return cached.userId;
      cache.delete(key);

      const verdict = breaker.check();
      if (!verdict.allowed) throw unavailable(verdict.retryAfterMs, verdict.state);
      let session: { userId: string; isGuest: boolean };
      try {
        session = await whoami(homeserverUrl, accessToken);
        breaker.record(true);
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        // A refused token is the homeserver working; anything else is it failing.
        const refused = err.status === 401 || err.status === 403;
        breaker.record(refused);
        if (refused) throw new DomainError('INVALID_TOKEN', 'Invalid or expired Matrix access token');
        throw unavailable(5000, breaker.state);
      }
      if (session.isGuest) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Guest accounts cannot manage a wallet');
      // Oldest first: Map keeps insertion order, so the first key is the one to drop.
      if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
      cache.set(key, { userId: session.userId, until: now() + cacheMs });
      return session.userId;
    },
  };
}
