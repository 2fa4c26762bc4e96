import { miniappById, miniappStatus } from '../db/miniapps';
import type { DatabaseConnection } from '../db/pool';

/** Whether the registry marks this client as the user's own messenger (first_party) and it is active. */
export async function isFirstPartyClient(db: DatabaseConnection, clientId: string): Promise<boolean> {
  const client = await miniappById(db, clientId);
  return client !== null && client.first_party && client.status === 'active';
}

/** Whether tokens issued to a client work: the registry knows it and it is active. */
export type ClientCheck = (clientId: string) => Promise<boolean>;

/**
 * Reads a client's status at most once per `ttlMs` per process: a suspended mini-app's tokens stop
 * working within that time everywhere, without a query on every request.
 */
export function cachedClientCheck(db: DatabaseConnection, ttlMs = 2000, now: () => number = Date.now): ClientCheck {
  const known = new Map<string, { active: boolean; until: number }>();
  return async (clientId) => {
    const hit = known.get(clientId);
    if (hit && hit.until > now()) return hit.active;
    const active = (await miniappStatus(db, clientId)) === 'active';
    known.set(clientId, { active, until: now() + ttlMs });
    return active;
  };
}
