import type { Logger } from '../logger';
import { profile, type MatrixSettings } from './client';

export type UserContext = { display_name?: string; avatar_url?: string };

const CACHE_MS = 5 * 60_000;
const MAX_CACHED = 10_000;

/**
 * The `user_context` of a TEP (PROTO 4.10): the user's display name and avatar from the homeserver
 * profile (asked with the AS token), remembered for five minutes. Best effort: a homeserver that
 * does not answer leaves the claim out rather than failing the grant.
 */
export function userContexts(matrix: MatrixSettings | undefined, log: Logger) {
  const cache = new Map<string, { context: UserContext; until: number }>();
  return async (userId: string): Promise<UserContext | undefined> => {
    if (!matrix) return undefined;
    const hit = cache.get(userId);
    if (hit && hit.until > Date.now()) return hit.context;
    try {
      const found = await profile(matrix, userId);
      const context: UserContext = {
        ...(found.displayName ? { display_name: found.displayName } : {}),
        ...(found.avatarUrl ? { avatar_url: found.avatarUrl } : {}),
      };
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(userId, { context, until: Date.now() + CACHE_MS });
      return context;
    } catch (err) {
      log.warn({ err, user_id: userId }, 'homeserver profile unavailable; TEP issued without user_context');
      return undefined;
    }
  };
}

export type UserContexts = ReturnType<typeof userContexts>;
