import { deleteConsents } from '../db/consents';
import { miniappById } from '../db/miniapps';
import { revokeSessionsOf } from '../db/oauth';
import { deleteNamespace } from '../db/storage';
import { queueWebhookEvent } from '../db/webhooks';
import { DomainError } from '../domain/errors';
import { authorizationWorkflowId, type AuthorizationRevoked } from '../domain/authorizationEvents';
import { clientAttribute, TMCP_USER_IDS } from '../domain/searchAttributes';
import { newId } from '../ids';
import { startIdempotently } from '../temporal/client';
import type { authorizationRecord } from '../../workflows/authorizationRecord';
import { startWebhookDeliveries, type WebhookStarterDeps } from '../miniapps/webhookStarter';

/**
 * PROTO 5.6, step 3: the revocation written into Matrix by a workflow of its own (retried for up to
 * a week while the homeserver is away). Its start failing is logged: the revocation itself stands.
 */
async function recordInMatrix(deps: WebhookStarterDeps, revocation: AuthorizationRevoked): Promise<void> {
  await startIdempotently<typeof authorizationRecord>(
    deps.temporal,
    deps.log,
    'authorizationRecord',
    {
      workflowId: authorizationWorkflowId(revocation.revocationId),
      args: [revocation],
      typedSearchAttributes: [{ key: TMCP_USER_IDS, value: [revocation.userId] }, ...clientAttribute(revocation.clientId)],
      staticSummary: `${revocation.userId} withdrew ${revocation.clientId}'s access`,
    },
    { user_id: revocation.userId, client_id: revocation.clientId },
  );
}

/**
 * The user withdraws a mini-app's access (PROTO 5.6): every session it holds for the user is
 * revoked (its refresh tokens and TEPs at once: the API processes hear of it by LISTEN/NOTIFY) and
 * the user's approvals for it are withdrawn, so a later exchange asks again, and what the app kept
 * in storage for the user is deleted. The mini-app's backend
 * is told by a `scope.revoked` webhook, queued in the same transaction, and the revocation is
 * documented in Matrix (recordInMatrix). Repeating it changes nothing and tells nobody again.
 */
export async function revokeMiniappAccess(deps: WebhookStarterDeps, userId: string, clientId: string) {
  if (!(await miniappById(deps.pool, clientId))) throw new DomainError('MINIAPP_NOT_FOUND', 'Mini-app not found', { field: 'client_id', client_id: clientId });
  const revokedAt = new Date().toISOString();
  const { sessions, withdrawn, eventId, lost } = await deps.pool.transaction(async (tx) => {
    const revoked = await revokeSessionsOf(tx, userId, clientId);
    const scopes = await deleteConsents(tx, userId, clientId);
    // PROTO 10.3.8: what the app kept for the user goes with its access.
    await deleteNamespace(tx, { clientId, userId });
    const lost = [...new Set([...revoked.flatMap((s) => s.scopes), ...scopes])].sort();
    const queued =
      lost.length > 0 || revoked.length > 0
        ? await queueWebhookEvent(tx, { eventId: newId('webhookEvent'), clientId, event: 'scope.revoked', data: { user_id: userId, revoked_scopes: lost, timestamp: revokedAt } })
        : null;
    return { sessions: revoked, withdrawn: scopes, eventId: queued, lost };
  });
  if (eventId) await startWebhookDeliveries(deps, [eventId]);
  if (lost.length > 0 || sessions.length > 0) {
    await recordInMatrix(deps, { revocationId: newId('revocation'), userId, clientId, revokedAt: Math.floor(Date.parse(revokedAt) / 1000), scopes: lost, reason: 'user_initiated' });
  }
  return { user_id: userId, client_id: clientId, revoked: true as const, revoked_sessions: sessions.length, withdrawn_scopes: [...withdrawn].sort(), revoked_at: revokedAt };
}
