import { displayAmount, formatAmount, type Currency } from './money';
import { leaderboard, type GiftInput, type Opening } from './gifts';

export const GIFT_EVENT_TYPE = 'm.tween.gift';
export const GIFT_OPENED_EVENT_TYPE = 'm.tween.gift.opened';
export const GIFT_EXPIRED_EVENT_TYPE = 'm.tween.gift.expired';

const money = (minor: string, currency: Currency) => formatAmount(BigInt(minor), currency);

/** PROTO 7.5.4's creation event, with the open action. Amounts are decimal strings (canonical JSON has no floats). */
export function giftCreatedContent(input: GiftInput) {
  return {
    msgtype: 'm.tween.gift',
    body: `🎁 Gift: ${displayAmount(BigInt(input.totalMinor), input.currency)}`,
    gift_id: input.giftId,
    type: input.type,
    total_amount: money(input.totalMinor, input.currency),
    currency: input.currency,
    count: input.count,
    ...(input.message ? { message: input.message } : {}),
    sender: { user_id: input.sender.userId },
    ...(input.recipientUserId ? { recipient: { user_id: input.recipientUserId } } : {}),
    status: 'active',
    opened_count: 0,
    actions: [{ type: 'open', label: 'Open Gift', endpoint: `/api/v1/wallet/gift/${input.giftId}/open` }],
  };
}

/** PROTO 7.5.4's update event after each opening, with the leaderboard so far. */
export function giftOpenedContent(input: GiftInput, opening: Opening, openings: readonly Opening[], remaining: number) {
  return {
    msgtype: 'm.tween.gift.opened',
    body: `${opening.userId} opened a gift: ${displayAmount(BigInt(opening.amountMinor), input.currency)}`,
    gift_id: input.giftId,
    opened_by: opening.userId,
    amount: money(opening.amountMinor, input.currency),
    currency: input.currency,
    opened_at: opening.openedAt,
    remaining_count: remaining,
    leaderboard: leaderboard(openings).map((o) => ({ user: o.userId, amount: money(o.amountMinor, input.currency) })),
  };
}

/** The room is told that a gift expired and what went back to its sender. */
export function giftExpiredContent(input: GiftInput, refundedMinor: string, opened: number) {
  return {
    msgtype: 'm.tween.gift.expired',
    body: `The gift expired: ${opened} of ${input.count} opened`,
    gift_id: input.giftId,
    status: 'expired',
    opened_count: opened,
    refunded_amount: money(refundedMinor, input.currency),
    currency: input.currency,
  };
}
