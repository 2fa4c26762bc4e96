import { deleteConsents } from '../db/consents';
import { miniappById } from '../db/miniapps';
import { revokeSessionsOf } from '../db/oauth';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';

/**
 * The user withdraws a mini-app's access (PROTO 5.6): every session it holds for the user is
 * revoked (its refresh tokens at once, its TEPs within the API's 2 s cache) and the user's
 * approvals for it are withdrawn, so a later exchange asks again. Repeating it changes nothing.
 */
export async function revokeMiniappAccess(deps: { pool: DatabasePool }, userId: string, clientId: string) {
  if (!(await miniappById(deps.pool, clientId))) throw new DomainError('MINIAPP_NOT_FOUND', 'Mini-app not found', { field: 'client_id', client_id: clientId });
  const { sessions, scopes } = await deps.pool.transaction(async (tx) => ({
    sessions: await revokeSessionsOf(tx, userId, clientId),
    scopes: await deleteConsents(tx, userId, clientId),
  }));
  return { user_id: userId, client_id: clientId, revoked: true, revoked_sessions: sessions.length, withdrawn_scopes: [...scopes].sort(), revoked_at: new Date().toISOString() };
}
