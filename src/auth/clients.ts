import type { AccessChange } from '../db/accessChanges';
import { miniappById } from '../db/miniapps';
import { isSessionRevoked } from '../db/oauth';
import type { DatabaseConnection } from '../db/pool';
import { activeSuspensionOf } from '../db/rateLimits';

/** What a TEP's client must be for its tokens to work: registered and active; first_party marks the user's own messenger. */
export interface ClientStanding {
  active: boolean;
  firstParty: boolean;
}

interface Remembered<T> {
  check(key: string): Promise<T>;
  forget(key: string): void;
  clear(): void;
}

/** Remembers `lookup`'s answer per key for `ttlMs`, unless told to forget it sooner. */
function remembered<T>(lookup: (key: string) => Promise<T>, ttlMs: number, now: () => number): Remembered<T> {
  const known = new Map<string, { value: T; until: number }>();
  return {
    async check(key) {
      const hit = known.get(key);
      if (hit && hit.until > now()) return hit.value;
      const value = await lookup(key);
      if (known.size >= 100_000) known.clear();
      known.set(key, { value, until: now() + ttlMs });
      return value;
    },
    forget: (key) => void known.delete(key),
    clear: () => known.clear(),
  };
}

/**
 * What TEP verification asks of the database beyond the signature: the client's standing (active,
 * first party) and whether the session was revoked (PROTO 5.6); and whether a caller is suspended. Answers are remembered per process
 * for `ttlMs`; the access change feed (LISTEN/NOTIFY) makes a revocation or suspension forget them
 * at once in every process, and the time limit bounds what a process that lost the feed can miss.
 */
export function accessChecks(db: DatabaseConnection, ttlMs = 2000, now: () => number = Date.now) {
  const clients = remembered(async (clientId): Promise<ClientStanding> => {
    const app = await miniappById(db, clientId);
    return { active: app?.status === 'active', firstParty: app?.status === 'active' && app.first_party };
  }, ttlMs, now);
  const sessions = remembered((sessionId) => isSessionRevoked(db, sessionId), ttlMs, now);
  const suspensions = remembered((subject) => activeSuspensionOf(db, subject), ttlMs, now);
  const caches = { session: sessions, client: clients, suspension: suspensions };
  return {
    client: (clientId: string) => clients.check(clientId),
    sessionRevoked: (sessionId: string) => sessions.check(sessionId),
    /** The suspension in force of a rate-limit subject (PROTO 11.4.5), if any. */
    suspension: (subject: string) => suspensions.check(subject),
    /** A change announced on the feed. */
    changed(change: AccessChange) {
      caches[change.kind].forget(change.id);
    },
    /** The feed (re)connected: anything may have changed meanwhile. */
    reset() {
      for (const cache of Object.values(caches)) cache.clear();
    },
  };
}

export type AccessChecks = ReturnType<typeof accessChecks>;
