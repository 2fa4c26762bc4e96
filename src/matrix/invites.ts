import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { inviteWorkflowId, type InviteInput } from '../domain/matrix';
import { TMCP_ROOM_ID, TMCP_USER_IDS } from '../domain/searchAttributes';
import type { Temporal } from '../temporal/client';
import type { acceptInvite } from '../../workflows/acceptInvite';

/**
 * Starts the acceptInvite saga for one invite. Its id comes from the invite event, so a transaction
 * that Synapse delivers again reaches the same workflow; one that finished already is left alone.
 */
export function inviteAcceptor(temporal: Temporal): (invite: InviteInput) => Promise<void> {
  return async (invite) => {
    try {
      await temporal.client.workflow.start<typeof acceptInvite>('acceptInvite', {
        taskQueue: temporal.taskQueue,
        workflowId: inviteWorkflowId(invite.inviteEventId),
        args: [invite],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `${invite.botUserId} joins ${invite.roomId}, invited by ${invite.inviter}`,
        typedSearchAttributes: [
          { key: TMCP_ROOM_ID, value: invite.roomId },
          { key: TMCP_USER_IDS, value: [invite.botUserId, invite.inviter] },
        ],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  };
}
