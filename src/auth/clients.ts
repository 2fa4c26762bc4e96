import type { AccessChange } from '../db/accessChanges';
import { miniappById, miniappStatus } from '../db/miniapps';
import { isSessionRevoked } from '../db/oauth';
import type { DatabaseConnection } from '../db/pool';

/** Whether the registry marks this client as the user's own messenger (first_party) and it is active. */
export async function isFirstPartyClient(db: DatabaseConnection, clientId: string): Promise<boolean> {
  const client = await miniappById(db, clientId);
  return client !== null && client.first_party && client.status === 'active';
}

/** Whether tokens issued to a client work: the registry knows it and it is active. */
export type ClientCheck = (clientId: string) => Promise<boolean>;

/** Whether a TEP's session was revoked (PROTO 5.6): its tokens stop working even before they expire. */
export type SessionCheck = (sessionId: string) => Promise<boolean>;

interface Remembered {
  check(key: string): Promise<boolean>;
  forget(key: string): void;
  clear(): void;
}

/** Remembers `lookup`'s answer per key for `ttlMs`, unless told to forget it sooner. */
function remembered(lookup: (key: string) => Promise<boolean>, ttlMs: number, now: () => number): Remembered {
  const known = new Map<string, { value: boolean; until: number }>();
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
 * What TEP verification asks of the database beyond the signature: is the client active, is the
 * session revoked. Answers are remembered per process for `ttlMs`; the access change feed
 * (LISTEN/NOTIFY) makes a revocation or suspension forget them at once in every process, and the
 * time limit bounds what a process that lost the feed can miss.
 */
export function accessChecks(db: DatabaseConnection, ttlMs = 2000, now: () => number = Date.now) {
  const clients = remembered(async (clientId) => (await miniappStatus(db, clientId)) === 'active', ttlMs, now);
  const sessions = remembered((sessionId) => isSessionRevoked(db, sessionId), ttlMs, now);
  return {
    clientActive: clients.check as ClientCheck,
    sessionRevoked: sessions.check as SessionCheck,
    /** A change announced on the feed. */
    changed(change: AccessChange) {
      (change.kind === 'session' ? sessions : clients).forget(change.id);
    },
    /** The feed (re)connected: anything may have changed meanwhile. */
    reset() {
      clients.clear();
      sessions.clear();
    },
  };
}

export type AccessChecks = ReturnType<typeof accessChecks>;
