import { createHash } from 'node:crypto';
import { walletByUser } from '../db/wallets';
import { DomainError, invalidField } from '../domain/errors';
import { TMCP_ROOM_ID, TMCP_USER_IDS } from '../domain/searchAttributes';
import { walletInviteUrl } from '../domain/wallets';
import type { WalletInvite } from '../domain/walletInvites';
import type { Logger } from '../logger';
import { startIdempotently, type Temporal } from '../temporal/client';
import { sagaUnavailable } from '../temporal/sagaCalls';
import type { walletInvite } from '../../workflows/walletInvite';
import type { ResolveDeps } from './wallets';

export interface InviteDeps extends ResolveDeps {
  temporal: Temporal;
  log: Logger;
}

/** One invitation per inviter, invitee and room, ever: asking again answers the same. */
const inviteWorkflowId = (i: Pick<WalletInvite, 'inviter' | 'invitee' | 'roomId'>) =>
  `wallet-invite-${createHash('sha256').update(JSON.stringify([i.inviter, i.invitee, i.roomId])).digest('hex').slice(0, 32)}`;

/**
 * PROTO 6.3.10: the caller invites someone without a wallet to create one, in a room both are in;
 * the payments bot posts `m.tween.wallet.invite` there (workflow `wallet-invite-<digest>`). Someone
 * with an active wallet needs no invitation.
 */
export async function inviteToWallet(deps: InviteDeps, inviter: string, req: { userId: string; roomId: string }) {
  if (req.userId === inviter) throw invalidField('user_id', 'must be someone else');
  const joined = await deps.rooms.joinedIn(req.roomId, [inviter, req.userId]);
  if (!joined.has(inviter) || !joined.has(req.userId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You and this user are not both members of that room', { user_id: req.userId, room_id: req.roomId });
  }
  if ((await walletByUser(deps.pool, req.userId))?.status === 'active') {
    throw new DomainError('INVALID_STATE', 'This user has a wallet already: send to them', { field: 'user_id', user_id: req.userId });
  }
  const invite: WalletInvite = { inviter, inviterName: (await deps.profiles?.(inviter))?.display_name ?? inviter.slice(1).split(':')[0]!, invitee: req.userId, roomId: req.roomId };
  const workflowId = inviteWorkflowId(invite);
  const started = await startIdempotently<typeof walletInvite>(
    deps.temporal,
    deps.log,
    'walletInvite',
    {
      workflowId,
      args: [invite],
      typedSearchAttributes: [
        { key: TMCP_USER_IDS, value: [inviter, req.userId] },
        { key: TMCP_ROOM_ID, value: req.roomId },
      ],
      staticSummary: `${inviter} invites ${req.userId} to create a wallet`,
    },
    { user_id: req.userId, room_id: req.roomId },
  );
  if (!started) throw sagaUnavailable('The invitation could not be sent now; ask again', { user_id: req.userId });
  return { invited: true as const, user_id: req.userId, room_id: req.roomId, invite_url: walletInviteUrl(req.userId), workflow_id: workflowId };
}
