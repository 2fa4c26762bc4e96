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

/** What decides where a gift's money goes: everything its proof must bind (ARCHITECTURE: a proof binds everything). */
export interface GiftTerms {
  roomId: string;
  type: 'individual' | 'group';
  /** An individual gift's recipient. */
  recipient?: string;
  count: number;
  distribution: Distribution;
  /** The decimal amount as the currency prints it (`10.00`). */
  total: string;
  currency: string;
  idempotencyKey: string;
}

/**
 * What the sender's device signs for a biometric proof of a gift (format v2): one field per line,
 * `gift:v2`, room id, type, the recipient (individual) or the count (group), distribution, total,
 * currency, idempotency key, timestamp. A signature for "10 USD to @bob" therefore funds nothing
 * else: not another recipient, count or room, and not a second gift under another key. No field
 * can hold a line break (each is checked at the edge), so no two gifts share a message.
 */
export function giftProofMessage(terms: GiftTerms, timestamp: string): string {
  const party = terms.type === 'individual' ? terms.recipient! : String(terms.count);
  return ['gift:v2', terms.roomId, terms.type, party, terms.distribution, terms.total, terms.currency, terms.idempotencyKey, timestamp].join('\n');
}

export const giftWorkflowId = (giftId: string) => `gift-${giftId}`;

/** The leaderboard: largest share first, earlier opening first among equals. */
export function leaderboard(openings: readonly Opening[]): Opening[] {
  return [...openings].sort((a, b) => {
    const diff = BigInt(b.amountMinor) - BigInt(a.amountMinor);
    return diff !== 0n ? (diff > 0n ? 1 : -1) : a.rank - b.rank;
  });
}
