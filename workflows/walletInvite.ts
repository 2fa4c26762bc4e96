import { ActivityFailure, workflowInfo } from '@temporalio/workflow';
import { WALLET_INVITE_EVENT_TYPE, walletInviteContent, type WalletInvite } from '../src/domain/walletInvites';
import { domainFailure, roomEvents } from './common';

const { sendMatrixEvent } = roomEvents();

/**
 * PROTO 6.3.10: the payments bot invites someone without a wallet to create one, in the room where
 * the inviter asked (the bot speaks; the inviter is named in the content), with the room events'
 * retries. One per inviter, invitee and room: the workflow id is theirs.
 */
export async function walletInvite(input: WalletInvite): Promise<{ eventId?: string; skipped?: string }> {
  try {
    return await sendMatrixEvent({ roomId: input.roomId, type: WALLET_INVITE_EVENT_TYPE, content: walletInviteContent(input), txnId: workflowInfo().workflowId });
  } catch (err) {
    const failure = domainFailure(err);
    if (!failure && !(err instanceof ActivityFailure)) throw err;
    return { skipped: failure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' };
  }
}
