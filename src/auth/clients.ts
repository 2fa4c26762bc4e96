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

/**
 * Remembers `lookup`'s answer per key for `ttlMs` per process: a suspension or revocation takes
 * effect within that time everywhere, without a query on every request.
 */
function remembered(lookup: (key: string) => Promise<boolean>, ttlMs: number, now: () => number): (key: string) => Promise<boolean> {
  const known = new Map<string, { value: boolean; until: number }>();
  return async (key) => {
    const hit = known.get(key);
    if (hit && hit.until > now()) return hit.value;
    const value = await lookup(key);
    if (known.size >= 100_000) known.clear();
    known.set(key, { value, until: now() + ttlMs });
    return value;
  };
}

export function cachedClientCheck(db: DatabaseConnection, ttlMs = 2000, now: () => number = Date.now): ClientCheck {
  return remembered(async (clientId) => (await miniappStatus(db, clientId)) === 'active', ttlMs, now);
}

export function cachedSessionCheck(db: DatabaseConnection, ttlMs = 2000, now: () => number = Date.now): SessionCheck {
  return remembered((sessionId) => isSessionRevoked(db, sessionId), ttlMs, now);
}
