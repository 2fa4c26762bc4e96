import { z } from 'zod';
import { GIFT_STATES } from '../../domain/gifts';
import { created, getGift, openGiftFor } from '../../gifts/gifts';
import { AmountAnswer, CurrencyCode, describes, Instant } from './common';

const GiftStatus = z.enum(GIFT_STATES);
const GiftType = z.enum(['individual', 'group']);

/** PROTO 7.5.2; a repeat with the same idempotency_key answers the stored copy of the first. */
export const GiftCreated = describes(
  z.object({
    gift_id: z.string(),
    status: GiftStatus,
    type: GiftType,
    total_amount: AmountAnswer,
    currency: CurrencyCode,
    count: z.number().int(),
    remaining: z.number().int(),
    // Nobody has opened a gift yet when it is made.
    opened_by: z.array(z.unknown()).max(0),
    recipient: z.string().optional(),
    message: z.string().optional(),
    expires_at: Instant,
    // Null when the room had not answered the announcement in time.
    event_id: z.string().nullable(),
  }),
  created,
);

/** PROTO 7.5.3 */
export const GiftOpened = describes(
  z.object({
    gift_id: z.string(),
    amount_received: AmountAnswer,
    currency: CurrencyCode,
    message: z.string().optional(),
    sender: z.object({ user_id: z.string() }),
    opened_at: Instant,
    stats: z.object({ total_opened: z.number().int(), total_remaining: z.number().int(), your_rank: z.number().int() }),
  }),
  openGiftFor,
);

export const GiftAnswer = describes(
  z.object({
    gift_id: z.string(),
    type: GiftType,
    status: GiftStatus,
    room_id: z.string(),
    sender: z.object({ user_id: z.string() }),
    recipient: z.string().optional(),
    total_amount: AmountAnswer,
    currency: CurrencyCode,
    count: z.number().int(),
    remaining: z.number().int(),
    distribution: z.enum(['equal', 'random']),
    message: z.string().optional(),
    opened_by: z.array(z.object({ user_id: z.string(), amount: AmountAnswer, rank: z.number().int(), opened_at: Instant })),
    leaderboard: z.array(z.object({ user: z.string(), amount: AmountAnswer })),
    // Once expired: what went back to the sender.
    refunded_amount: AmountAnswer.optional(),
    event_id: z.string().optional(),
    created_at: Instant,
    expires_at: Instant,
    finished_at: Instant.optional(),
  }),
  getGift,
);
