import { miniappById } from '../db/miniapps';
import type { DatabaseConnection } from '../db/pool';

/** Whether the registry marks this client as the user's own messenger (first_party) and it is active. */
export async function isFirstPartyClient(db: DatabaseConnection, clientId: string): Promise<boolean> {
  const client = await miniappById(db, clientId);
  return client !== null && client.first_party && client.status === 'active';
}
