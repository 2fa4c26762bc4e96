import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { dequeueInvite, queuedInvites } from '../db/matrix';
import type { DatabasePool } from '../db/pool';
import { inviteWorkflowId, type InviteInput } from '../domain/matrix';
import { TMCP_ROOM_ID, TMCP_USER_IDS } from '../domain/searchAttributes';
import type { Logger } from '../logger';
import type { Temporal } from '../temporal/client';
import type { acceptInvite } from '../../workflows/acceptInvite';

export interface InviteStarterDeps {
  pool: DatabasePool;
  temporal: Temporal;
  log: Logger;
}

/** How long one saga start may take before the invite is left in the outbox for the sweeper. */
const START_TIMEOUT_MS = 5000;

/**
 * Starts the acceptInvite saga of each invite the homeserver's transactions queued in the outbox,
 * and takes it out once started. The workflow id comes from the invite event, so a start repeated
 * (a second API replica, the sweeper) reaches the same workflow; one that finished is left alone.
 * Temporal being down leaves the invite queued: it never fails the homeserver's transaction.
 */
export async function startInviteSagas(deps: InviteStarterDeps, invites: readonly InviteInput[]): Promise<number> {
  let started = 0;
  for (const invite of invites) {
    try {
      await deps.temporal.client.withDeadline(Date.now() + START_TIMEOUT_MS, () =>
        deps.temporal.client.workflow.start<typeof acceptInvite>('acceptInvite', {
          taskQueue: deps.temporal.taskQueue,
          workflowId: inviteWorkflowId(invite.inviteEventId),
          args: [invite],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          staticSummary: `${invite.botUserId} joins ${invite.roomId}, invited by ${invite.inviter}`,
          typedSearchAttributes: [
            { key: TMCP_ROOM_ID, value: invite.roomId },
            { key: TMCP_USER_IDS, value: [invite.botUserId, invite.inviter] },
          ],
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        deps.log.warn({ err, invite_event_id: invite.inviteEventId, room_id: invite.roomId }, 'invite saga not started yet; the sweeper retries');
        continue;
      }
    }
    await dequeueInvite(deps.pool, invite.inviteEventId);
    started += 1;
  }
  return started;
}

/** The sweeper's part: invites queued more than `graceMs` ago whose saga did not start (Temporal was down, a process stopped). */
export async function sweepQueuedInvites(deps: InviteStarterDeps, graceMs: number): Promise<number> {
  return startInviteSagas(deps, await queuedInvites(deps.pool, new Date(Date.now() - graceMs), 100));
}
