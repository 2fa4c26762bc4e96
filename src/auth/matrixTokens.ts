import { createHash } from 'node:crypto';
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
 */
export function homeserverTokenChecker(homeserverUrl: string | undefined, options: { now?: () => number; cacheMs?: number } = {}): MatrixTokenChecker {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? MATRIX_TOKEN_CACHE_MS;
  const cache = new Map<string, { userId: string; until: number }>();

  return {
    async userIdOf(accessToken) {
      if (!homeserverUrl) throw new DomainError('INVALID_TOKEN', 'Matrix access tokens are not accepted: no homeserver is configured');
      const key = createHash('sha256').update(accessToken).digest('base64url');
      const cached = cache.get(key);
      if (cached && cached.until > now()) return cached.userId;
      cache.delete(key);

      let session: { userId: string; isGuest: boolean };
      try {
        session = await whoami(homeserverUrl, accessToken);
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        if (err.status === 401 || err.status === 403) throw new DomainError('INVALID_TOKEN', 'Invalid or expired Matrix access token');
        throw new DomainError('SERVICE_UNAVAILABLE', 'The homeserver cannot check Matrix tokens right now; retry', { retry_after_seconds: 5 });
      }
      if (session.isGuest) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Guest accounts cannot manage a wallet');
      // Oldest first: Map keeps insertion order, so the first key is the one to drop.
      if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
      cache.set(key, { userId: session.userId, until: now() + cacheMs });
      return session.userId;
    },
  };
}
