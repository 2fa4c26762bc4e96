import { displayAmount, formatAmount } from './money';
import type { P2PInput, P2PState } from './p2p';

export const P2P_EVENT_TYPE = 'm.tween.wallet.p2p';
export const P2P_STATUS_EVENT_TYPE = 'm.tween.wallet.p2p.status';

/**
 * PROTO 7.2.8 `m.tween.wallet.p2p` content. The event is sent by the payments bot (an AS sends only
 * as its own users), so the people are named in `sender` and `recipient` here. `amount` is a decimal
 * string ("12.50"), not PROTO's JSON number: Matrix canonical JSON has no floats, and Synapse refuses
 * an event that carries one.
 */
export function p2pEventContent(
  input: P2PInput,
  status: Extract<P2PState, 'completed' | 'pending_recipient_acceptance'>,
  timestamp: string,
  acceptanceExpiresAt?: string,
) {
  const amount = BigInt(input.amountMinor);
  const base = `/api/v1/wallet/p2p/${input.transferId}`;
  return {
    msgtype: 'm.tween.money',
    body: `💸 Sent ${displayAmount(amount, input.currency)}`,
    transfer_id: input.transferId,
    amount: formatAmount(amount, input.currency),
    currency: input.currency,
    ...(input.note ? { note: input.note } : {}),
    sender: { user_id: input.sender.userId },
    recipient: { user_id: input.recipient.userId },
    status,
    recipient_acceptance_required: input.recipientAcceptanceRequired,
    ...(status === 'pending_recipient_acceptance'
      ? {
          expires_at: acceptanceExpiresAt,
          actions: [
            { type: 'accept', label: 'Confirm Receipt', endpoint: `${base}/accept` },
            { type: 'reject', label: 'Decline', endpoint: `${base}/reject` },
          ],
        }
      : {}),
    timestamp,
  };
}

const STATUS_VISUALS = {
  completed: { icon: '✓', color: 'green', status_text: 'Accepted', at: 'accepted_at' },
  rejected: { icon: '✕', color: 'red', status_text: 'Declined', at: 'rejected_at' },
  expired: { icon: '⏱', color: 'grey', status_text: 'Expired, refunded', at: 'expired_at' },
} as const;

/** PROTO 7.2.7 `m.tween.wallet.p2p.status` content, after accept, reject or expiry. */
export function p2pStatusEventContent(transferId: string, status: keyof typeof STATUS_VISUALS, at: string) {
  const { at: atField, ...visual } = STATUS_VISUALS[status];
  return {
    msgtype: 'm.tween.money.status',
    body: `Transfer ${visual.status_text.toLowerCase()}`,
    transfer_id: transferId,
    status,
    [atField]: at,
    visual,
  };
}
