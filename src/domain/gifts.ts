import type { Distribution } from './giftDistribution';
import type { Currency } from './money';
import type { SealedProof } from './p2p';

/** Group gifts (PROTO 7.5) as the `gift-<id>` workflow, the API and the activities share them. Amounts in minor units as strings. */
export const GIFT_STATES = ['pending', 'active', 'fully_opened', 'expired', 'failed'] as const;
export type GiftState = (typeof GIFT_STATES)[number];

export interface GiftInput {
  giftId: string;
  type: 'individual' | 'group';
  sender: { userId: string; walletId: string };
  recipientUserId?: string;
  roomId: string;
  totalMinor: string;
  currency: Currency;
  count: number;
  distribution: Distribution;
  message?: string;
  /** What is left of the gift's life when the workflow starts. */
  expiresInMs: number;
  eventWaitMs: number;
}

export interface Opening {
  userId: string;
  amountMinor: string;
  rank: number;
  openedAt: string;
}

export interface GiftSnapshot {
  giftId: string;
  status: GiftState;
  remaining: number;
  openings: Opening[];
  eventId?: string;
  expiresAt?: string;
  refundedMinor?: string;
}

export interface StartGiftRequest {
  userId: string;
  proof: SealedProof;
}

/** What the sender's device signs for a biometric proof of a gift: `gift:<room_id>:<total>:<currency>:<timestamp>`. */
export function giftProofMessage(roomId: string, total: string, currency: string, timestamp: string): string {
  return `gift:${roomId}:${total}:${currency}:${timestamp}`;
}

export const giftWorkflowId = (giftId: string) => `gift-${giftId}`;

/** The leaderboard: largest share first, earlier opening first among equals. */
export function leaderboard(openings: readonly Opening[]): Opening[] {
  return [...openings].sort((a, b) => {
    const diff = BigInt(b.amountMinor) - BigInt(a.amountMinor);
    return diff !== 0n ? (diff > 0n ? 1 : -1) : a.rank - b.rank;
  });
}
