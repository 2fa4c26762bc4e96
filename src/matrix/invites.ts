import { dequeueInvite, queuedInvites } from '../db/matrix';
import type { DatabasePool } from '../db/pool';
import { inviteWorkflowId, type InviteInput } from '../domain/matrix';
import { TMCP_ROOM_ID, TMCP_USER_IDS } from '../domain/searchAttributes';
import type { Logger } from '../logger';
import { startIdempotently, type Temporal } from '../temporal/client';
import type { acceptInvite } from '../../workflows/acceptInvite';

export interface InviteStarterDeps {
  pool: DatabasePool;
  temporal: Temporal;
  log: Logger;
}

/**
 * Starts the acceptInvite saga of each invite the homeserver's transactions queued in the outbox,
 * and takes it out once started. The workflow id comes from the invite event, so a start repeated
 * (a second API replica, the sweeper) reaches the same workflow; one that finished is left alone.
 * Temporal being down leaves the invite queued: it never fails the homeserver's transaction.
 */
export async function startInviteSagas(deps: InviteStarterDeps, invites: readonly InviteInput[]): Promise<number> {
  let started = 0;
  for (const invite of invites) {
    const running = await startIdempotently<typeof acceptInvite>(
      deps.temporal,
      deps.log,
      'acceptInvite',
      {
        workflowId: inviteWorkflowId(invite.inviteEventId),
        args: [invite],
        staticSummary: `${invite.botUserId} joins ${invite.roomId}, invited by ${invite.inviter}`,
        typedSearchAttributes: [
          { key: TMCP_ROOM_ID, value: invite.roomId },
          { key: TMCP_USER_IDS, value: [invite.botUserId, invite.inviter] },
        ],
      },
      { invite_event_id: invite.inviteEventId, room_id: invite.roomId },
    );
    if (!running) continue;
    await dequeueInvite(deps.pool, invite.inviteEventId);
    started += 1;
  }
  return started;
}

/** The sweeper's part: invites queued more than `graceMs` ago whose saga did not start (Temporal was down, a process stopped). */
export async function sweepQueuedInvites(deps: InviteStarterDeps, graceMs: number): Promise<number> {
  return startInviteSagas(deps, await queuedInvites(deps.pool, new Date(Date.now() - graceMs), 100));
}
