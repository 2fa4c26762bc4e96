import { postEntryIn } from '../db/ledger';
import { giftById, insertOpening, markGiftExpired, openingOf, openingsBy, setGiftStatus, takeShare, type Gift } from '../db/gifts';
import type { DatabasePool } from '../db/pool';
import { walletById, walletByUser, walletsByUsers, type Wallet } from '../db/wallets';
import { DomainError } from '../domain/errors';
import type { AccountRef } from '../domain/ledger';
import { checkSendLimits } from './limits';
import { currencyMismatch } from '../domain/wallets';

const escrow = (g: Gift): AccountRef => ({ kind: 'escrow', giftId: g.id, currency: g.currency });
const wallet = (g: Gift, walletId: string): AccountRef => ({ kind: 'wallet', walletId, currency: g.currency });

function notFound(giftId: string): DomainError {
  return new DomainError('NOT_FOUND', 'Gift not found', { gift_id: giftId });
}

/**
 * The gift's money into its escrow: one journal entry sender → escrow, with the sender's wallet and
 * limits checked under the account locks; the gift becomes active. Safe to repeat.
 */
export async function postGiftFunding(pool: DatabasePool, giftId: string): Promise<void> {
  await pool.transaction(async (tx) => {
    const g = await giftById(tx, giftId, true);
    if (!g) throw notFound(giftId);
    if (g.status !== 'pending') return;
    await postEntryIn(
      tx,
      {
        idempotencyKey: `gift:${g.id}:fund`,
        kind: 'gift_fund',
        reference: g.id,
        metadata: { gift_id: g.id, room_id: g.room_id },
        postings: [
          { account: wallet(g, g.sender_wallet_id), amount: -g.total_amount },
          { account: escrow(g), amount: g.total_amount },
        ],
      },
      {
        guard: async (locked) => {
          const w = await walletById(locked, g.sender_wallet_id);
          if (!w || w.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_id: g.sender_wallet_id });
          await checkSendLimits(locked, w, g.total_amount);
        },
      },
    );
    await setGiftStatus(tx, g.id, { status: 'active' });
  });
}

/** Ends a gift that was never funded (its proof or its funding was refused). */
export async function closeUnfundedGift(pool: DatabasePool, giftId: string, reason: string): Promise<void> {
  await pool.transaction(async (tx) => {
    const g = await giftById(tx, giftId, true);
    if (g?.status === 'pending') await setGiftStatus(tx, giftId, { status: 'failed', reason, finished: true });
  });
}

/**
 * One opening (PROTO 7.5.6): with the gift's row locked, the gift must be active and have a share
 * left; the opening is inserted (the primary key refuses a second one by the same user) and the
 * share moves escrow → opener in one entry keyed by gift and user. A repeat by the same user after
 * success answers the opening it made.
 */
export async function postGiftOpening(pool: DatabasePool, req: { giftId: string; userId: string; amountMinor: string; rank: number }) {
  return pool.transaction(async (tx) => {
    const g = await giftById(tx, req.giftId, true);
    if (!g) throw notFound(req.giftId);
    const earlier = await openingOf(tx, g.id, req.userId);
    if (earlier) return { amountMinor: earlier.amount.toString(), rank: earlier.rank, openedAt: earlier.opened_at.toISOString(), repeated: true };
    const opener = await walletByUser(tx, req.userId);
    const refusal = openingRefusal(g, g.count - g.remaining_count, req.userId, opener);
    if (refusal) throw refusal;
    if (!opener) throw new DomainError('NO_WALLET', 'Open a wallet to receive the gift', { user_id: req.userId }); // not reached: openingRefusal refuses a missing wallet
    const amount = BigInt(req.amountMinor);
    const posted = await postEntryIn(tx, {
      idempotencyKey: `gift:${g.id}:open:${req.userId}`,
      kind: 'gift_open',
      reference: g.id,
      metadata: { gift_id: g.id, rank: req.rank },
      postings: [
        { account: escrow(g), amount: -amount },
        { account: wallet(g, opener.id), amount },
      ],
    });
    await insertOpening(tx, { giftId: g.id, userId: req.userId, walletId: opener.id, amount, rank: req.rank, txnId: posted.txnId });
    await takeShare(tx, g.id, amount);
    return { amountMinor: amount.toString(), rank: req.rank, openedAt: posted.createdAt.toISOString(), repeated: false };
  });
}

/** Why an opener takes no share: `g` as read before the batch, `taken` counting the batch's openings so far. */
function openingRefusal(g: Gift, taken: number, userId: string, opener: Wallet | null): DomainError | undefined {
  if (g.status === 'expired') return new DomainError('GIFT_EXPIRED', 'The gift has expired', { gift_id: g.id });
  if (g.status !== 'active' || taken >= g.count) return new DomainError('GIFT_EMPTY', 'Gift has already been fully opened', { gift_id: g.id });
  if (!opener || opener.status !== 'active') return new DomainError('NO_WALLET', 'Open a wallet to receive the gift', { user_id: userId });
  if (opener.currency !== g.currency) return currencyMismatch(opener, g.currency, 'gift_id');
  return undefined;
}

/** What one opener of a batch got: their opening, or why not (a domain error's code, message and details). */
export type BatchOpening =
  | { userId: string; amountMinor: string; rank: number; openedAt: string; repeated: boolean }
  | { userId: string; refusal: { type: string; message: string; details: Record<string, unknown> } };

/**
 * Several openings in one transaction, in the order given, with the gift's row locked once: each
 * takes the next share (rank = shares taken so far + 1, amount = shares[rank - 1]) unless the
 * opener is refused (no wallet, another currency, no share left), which takes nothing. A repeat
 * (an activity retried after its commit) answers the openings already made.
 */
export async function postGiftOpenings(pool: DatabasePool, req: { giftId: string; userIds: readonly string[]; shares: readonly string[] }): Promise<BatchOpening[]> {
  return pool.transaction(async (tx) => {
    const g = await giftById(tx, req.giftId, true);
    if (!g) throw notFound(req.giftId);
    let taken = g.count - g.remaining_count;
    const results: BatchOpening[] = [];
    // Read once for the whole batch: the openings already made (a retried activity) and the openers' wallets.
    const made = new Map((await openingsBy(tx, g.id, req.userIds)).map((o) => [o.user_id, o]));
    const wallets = new Map((await walletsByUsers(tx, req.userIds)).map((w) => [w.user_id, w]));
    for (const userId of req.userIds) {
      const earlier = made.get(userId);
      if (earlier) {
        results.push({ userId, amountMinor: earlier.amount.toString(), rank: earlier.rank, openedAt: earlier.opened_at.toISOString(), repeated: true });
        continue;
      }
      const opener = wallets.get(userId) ?? null;
      const refusal = openingRefusal(g, taken, userId, opener);
      if (refusal || !opener) {
        if (refusal) results.push({ userId, refusal: { type: refusal.code, message: refusal.message, details: refusal.details ?? {} } });
        continue;
      }
      taken += 1;
      const amount = BigInt(req.shares[taken - 1]!);
      const posted = await postEntryIn(tx, {
        idempotencyKey: `gift:${g.id}:open:${userId}`,
        kind: 'gift_open',
        reference: g.id,
        metadata: { gift_id: g.id, rank: taken },
        postings: [
          { account: escrow(g), amount: -amount },
          { account: wallet(g, opener.id), amount },
        ],
      });
      await insertOpening(tx, { giftId: g.id, userId, walletId: opener.id, amount, rank: taken, txnId: posted.txnId });
      await takeShare(tx, g.id, amount);
      results.push({ userId, amountMinor: amount.toString(), rank: taken, openedAt: posted.createdAt.toISOString(), repeated: false });
    }
    return results;
  });
}

/** At expiry: what is left in the escrow goes back to the sender in one entry; the gift is expired. Safe to repeat. */
export async function postGiftExpiry(pool: DatabasePool, giftId: string): Promise<{ refundedMinor: string }> {
  return pool.transaction(async (tx) => {
    const g = await giftById(tx, giftId, true);
    if (!g) throw notFound(giftId);
    if (g.status === 'expired') return { refundedMinor: g.refunded_amount.toString() };
    if (g.status !== 'active') return { refundedMinor: '0' };
    if (g.remaining_amount > 0n) {
      await postEntryIn(tx, {
        idempotencyKey: `gift:${g.id}:refund`,
        kind: 'gift_refund',
        reference: g.id,
        metadata: { gift_id: g.id, unopened: g.remaining_count },
        postings: [
          { account: escrow(g), amount: -g.remaining_amount },
          { account: wallet(g, g.sender_wallet_id), amount: g.remaining_amount },
        ],
      });
    }
    await markGiftExpired(tx, g.id, g.remaining_amount);
    return { refundedMinor: g.remaining_amount.toString() };
  });
}
