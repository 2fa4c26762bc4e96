import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { InviteInput, InviteResult } from '../src/domain/matrix';

// The homeserver is up when it delivers the invite, but a join can still meet a restart or a
// remote server over federation: retry for a day, then give up with the reason.
const { joinRoomAsBot } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * One of our bots was invited to a room: it joins (the homeserver only delivers the invite). Its own
 * workflow, so a join that fails never holds up the transaction that carried the invite.
 */
export async function acceptInvite(input: InviteInput): Promise<InviteResult> {
  try {
    await joinRoomAsBot({ roomId: input.roomId, botUserId: input.botUserId });
    return { joined: true };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return { joined: false, error: err.cause?.message ?? err.message };
  }
}
