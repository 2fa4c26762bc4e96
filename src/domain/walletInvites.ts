import { walletInviteUrl } from './wallets';

/** PROTO 6.3.10: someone without a wallet invited to create one, in a room both are in. */
export const WALLET_INVITE_EVENT_TYPE = 'm.tween.wallet.invite';

export interface WalletInvite {
  inviter: string;
  inviterName: string;
  invitee: string;
  roomId: string;
}

/** PROTO 6.3.10's content (no incentive: this server offers none). */
export function walletInviteContent(i: WalletInvite): Record<string, unknown> {
  return {
    msgtype: 'm.tween.wallet_invite',
    body: `${i.inviterName} invited you to create a Tween Wallet`,
    inviter: i.inviter,
    invitee: i.invitee,
    invite_url: walletInviteUrl(i.invitee),
  };
}
