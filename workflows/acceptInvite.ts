import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { InviteInput, InviteResult } from '../src/domain/matrix';

// The homeserver is up when it delivers the invite, but a join can still meet a restart or a
// remote server over federation: retry for a day.
const { joinRoomAsBot, readRoomMembersAsBot } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * One of our bots was invited to a room: it joins (the homeserver only delivers the invite), then
 * reads who joined before it, since the homeserver sends the room's events only from now on.
 * A refused join fails the workflow with the homeserver's reason, for operators to see.
 */
export async function acceptInvite(input: InviteInput): Promise<InviteResult> {
  try {
    await joinRoomAsBot({ roomId: input.roomId, botUserId: input.botUserId });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    throw ApplicationFailure.create({ type: 'MATRIX_JOIN_REFUSED', message: err.cause?.message ?? err.message, nonRetryable: true });
  }
  const { read } = await readRoomMembersAsBot({ roomId: input.roomId, botUserId: input.botUserId });
  return { joined: true, membersRead: read };
}
