import type { Config } from '../config';
import { createKeyedDigest, type Sealer } from '../crypto/sealing';
import { giftById, giftByKey, insertGift, openingOf, openingsOf, staleGifts, storeGiftResponse, type Gift } from '../db/gifts';
import type { DatabasePool } from '../db/pool';
import { walletByUser } from '../db/wallets';
import { DomainError, invalidField } from '../domain/errors';
import { distributionProblem, type Distribution } from '../domain/giftDistribution';
import { giftWorkflowId, leaderboard, type GiftInput, type GiftSnapshot, type Opening } from '../domain/gifts';
import { amountToJson, type Currency } from '../domain/money';
import type { AuthProof } from '../domain/p2p';
import { clientAttribute, TMCP_ROOM_ID, TMCP_STATUS, TMCP_USER_IDS } from '../domain/searchAttributes';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import { inNamespace, paymentsBot } from '../matrix/bots';
import type { Rooms } from '../matrix/rooms';
import { startIdempotently, type Temporal } from '../temporal/client';
import { keyedUpdateId, sagaUnavailable, updateSaga } from '../temporal/sagaCalls';
import { refuseOtherRequest, requestHash } from '../idempotency';
import { checkSendLimits } from '../ledger/limits';
import { proofSealer, sealProof } from '../factors/proofs';
import { currencyMismatch } from '../domain/wallets';
import { ownWallet } from '../wallet/wallets';
import { openGiftUpdate, startGift } from '../../workflows/giftMessages';
import type { giftSaga } from '../../workflows/gift';

export interface GiftDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  config: Pick<Config, 'p2p' | 'sagaAnswerTimeoutMs' | 'matrix' | 'gifts'>;
  log: Logger;
  rooms: Rooms;
  proofSealer: Sealer;
  updateIds: (text: string) => string;
}

export function giftSecrets(dataKey: Buffer): Pick<GiftDeps, 'proofSealer' | 'updateIds'> {
  return { proofSealer: proofSealer(dataKey), updateIds: createKeyedDigest(dataKey, 'gift-update-id') };
}

export interface CreateGift {
  /** The mini-app the sender uses (its proofs' failures count there). */
  clientId: string;
  type: 'individual' | 'group';
  recipient?: string;
  roomId: string;
  total: bigint;
  currency: Currency;
  count: number;
  distribution: Distribution;
  message?: string;
  expiresInSeconds: number;
  idempotencyKey: string;
  authProof: AuthProof;
}

const hashOf = (r: CreateGift) =>
  requestHash([r.type, r.recipient ?? null, r.roomId, r.total.toString(), r.currency, r.count, r.distribution, r.message ?? null, r.expiresInSeconds]);

const UNAVAILABLE = 'The gift could not be reached right now; retry the same request';

function sagaInput(deps: Pick<GiftDeps, 'config'>, g: Gift, now: Date): GiftInput {
  return {
    giftId: g.id,
    type: g.type,
    sender: { userId: g.sender_user_id, walletId: g.sender_wallet_id },
    ...(g.recipient_user_id ? { recipientUserId: g.recipient_user_id } : {}),
    roomId: g.room_id,
    totalMinor: g.total_amount.toString(),
    currency: g.currency,
    count: g.count,
    distribution: g.distribution,
    ...(g.message ? { message: g.message } : {}),
    expiresInMs: Math.max(0, g.expires_at.getTime() - now.getTime()),
    eventWaitMs: deps.config.p2p.eventWaitMs,
  };
}

/**
 * The room checks of a gift (PROTO 7.5.2): the sender joined; our payments bot there to announce it
 * (else: invite it); a group gift's count at most the other joined members (and GIFT_MAX_COUNT); an
 * individual gift's recipient joined. Without Matrix nothing can be checked (as for P2P).
 */
async function checkRoom(deps: GiftDeps, senderUserId: string, req: CreateGift): Promise<void> {
  const members = await deps.rooms.membersOf(req.roomId);
  if (members === undefined) return;
  if (!members.includes(senderUserId)) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You are not a joined member of room_id', { field: 'room_id', room_id: req.roomId });
  const bot = paymentsBot(deps.config.matrix!.serverName);
  if (!members.includes(bot)) {
    throw new DomainError('INVALID_REQUEST', `room_id: invite ${bot} to the room first; it announces and pays out gifts`, { field: 'room_id', reason: 'payments bot not in the room', invite: bot });
  }
  const others = members.filter((m) => m !== senderUserId && !inNamespace(m, deps.config.matrix!.serverName));
  if (req.type === 'individual' && !others.includes(req.recipient!)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'The recipient is not a joined member of room_id', { field: 'recipient', room_id: req.roomId });
  }
  if (req.type === 'group' && req.count > others.length) throw invalidField('count', `must be at most the ${others.length} other joined members of the room`);
}

/** The PROTO 7.5.2 answer of a gift as its workflow answered its start. */
export function created(g: Gift, s: GiftSnapshot) {
  return {
    gift_id: g.id,
    status: s.status,
    type: g.type,
    total_amount: amountToJson(g.total_amount, g.currency),
    currency: g.currency,
    count: g.count,
    remaining: s.remaining,
    opened_by: [],
    ...(g.recipient_user_id ? { recipient: g.recipient_user_id } : {}),
    ...(g.message ? { message: g.message } : {}),
    expires_at: g.expires_at.toISOString(),
    event_id: s.eventId ?? null,
  };
}

/**
 * PROTO 7.5.2: a gift into a room. The sender's proof (as for a P2P confirm, with its lockouts)
 * and the money into the gift's escrow are the first step of its workflow `gift-<id>`, started with
 * that step (Update-with-Start); the room hears of it from the payments bot. Idempotent per sender
 * and idempotency_key: a repeat answers the stored response.
 */
export async function createGift(deps: GiftDeps, senderUserId: string, req: CreateGift) {
  const hash = hashOf(req);
  const existing = await giftByKey(deps.pool, senderUserId, req.idempotencyKey);
  if (existing) return repeat(deps, existing, hash, senderUserId, req.authProof);

  const sender = await ownWallet(deps, senderUserId);
  if (sender.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_status: sender.status });
  if (req.currency !== sender.currency) throw new DomainError('CURRENCY_MISMATCH', 'currency must be the currency of your wallet', { field: 'currency', currency: req.currency });
  if (req.type === 'group' && req.count > deps.config.gifts.maxCount) throw invalidField('count', `must be at most ${deps.config.gifts.maxCount}`);
  const problem = distributionProblem(req.total, req.count);
  if (problem) throw invalidField(req.type === 'group' ? 'total_amount' : 'amount', problem);
  if (req.type === 'individual') {
    if (req.recipient === senderUserId) throw invalidField('recipient', 'must not be the sender');
    const recipient = await walletByUser(deps.pool, req.recipient!);
    if (!recipient || recipient.status !== 'active') throw new DomainError('RECIPIENT_NO_WALLET', 'Recipient does not have an active wallet', { field: 'recipient', recipient: req.recipient });
    if (recipient.currency !== req.currency) throw currencyMismatch(recipient, req.currency, 'recipient');
  }
  await checkRoom(deps, senderUserId, req);
  await checkSendLimits(deps.pool, sender, req.total);

  const { gift, created: isNew } = await insertGift(deps.pool, {
    id: deps.clock.newId('gift'),
    type: req.type,
    senderUserId,
    senderWalletId: sender.id,
    recipientUserId: req.recipient,
    roomId: req.roomId,
    currency: req.currency,
    total: req.total,
    count: req.count,
    distribution: req.distribution,
    message: req.message,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    expiresAt: new Date(deps.clock.now().getTime() + req.expiresInSeconds * 1000),
    clientId: req.clientId,
  });
  if (!isNew) return repeat(deps, gift, hash, senderUserId, req.authProof);
  return start(deps, gift, senderUserId, req.authProof, false);
}

/**
 * The same request again (same key): the stored answer; or, when the first one never got its
 * answer (a timeout, a crash), the start sent again (the same proof is the same Update, which
 * Temporal answers with the first outcome) or the answer built from what PostgreSQL has.
 */
async function repeat(deps: GiftDeps, g: Gift, hash: string, senderUserId: string, authProof: AuthProof) {
  refuseOtherRequest(g.request_hash, hash, 'gift', { gift_id: g.id });
  if (g.response) return { replayed: true, body: g.response };
  if (g.status === 'failed') throw new DomainError('INVALID_STATE', 'The gift with this idempotency_key failed; use a new key', { gift_id: g.id, status: g.status, reason: g.status_reason });
  if (g.status !== 'pending') return answerFromRow(deps, g);
  return start(deps, g, senderUserId, authProof, true);
}

/** The PROTO 7.5.2 answer from the gift's row, stored for later repeats. */
async function answerFromRow(deps: Pick<GiftDeps, 'pool'>, g: Gift) {
  const body = created(g, { giftId: g.id, status: g.status, remaining: g.remaining_count, openings: [], ...(g.event_id ? { eventId: g.event_id } : {}) });
  await storeGiftResponse(deps.pool, g.id, body, undefined);
  return { replayed: true, body };
}

/** The gift's first step, with its workflow (Update-with-Start): the sender's proof and the money into the escrow. */
async function start(deps: GiftDeps, gift: Gift, senderUserId: string, authProof: AuthProof, replayed: boolean) {
  const outcome = await updateSaga(deps, {
    workflowId: giftWorkflowId(gift.id),
    update: startGift,
    arg: { userId: senderUserId, proof: sealProof(deps.proofSealer, gift.id, authProof) },
    updateId: keyedUpdateId(deps.updateIds, 'start', [gift.id, senderUserId, authProof]),
    start: () => ({
      workflowType: 'giftSaga',
      options: {
        workflowId: giftWorkflowId(gift.id),
        args: [sagaInput(deps, gift, deps.clock.now())],
        staticSummary: `Gift ${gift.id}: ${senderUserId} in ${gift.room_id}, ${amountToJson(gift.total_amount, gift.currency)} ${gift.currency} in ${gift.count}`,
        typedSearchAttributes: [
          { key: TMCP_STATUS, value: 'pending' },
          { key: TMCP_USER_IDS, value: [senderUserId, ...(gift.recipient_user_id ? [gift.recipient_user_id] : [])] },
          { key: TMCP_ROOM_ID, value: gift.room_id },
          ...clientAttribute(gift.client_id),
        ],
      },
    }),
    fields: { gift_id: gift.id },
    unavailable: UNAVAILABLE,
  });
  if (!('answer' in outcome)) {
    if ('finished' in outcome || outcome.refusal.code === 'INVALID_STATE') {
      // Started by an earlier request meanwhile: what it did is in PostgreSQL.
      const now = await giftById(deps.pool, gift.id);
      if (now && now.status !== 'pending' && now.status !== 'failed') return answerFromRow(deps, now);
    }
    if ('refusal' in outcome) throw outcome.refusal;
    throw sagaUnavailable(UNAVAILABLE, { gift_id: gift.id });
  }
  const snapshot: GiftSnapshot = outcome.answer;
  const body = created(gift, snapshot);
  await storeGiftResponse(deps.pool, gift.id, body, snapshot.eventId);
  deps.log.info({ gift_id: gift.id, room_id: gift.room_id, count: gift.count }, 'gift created');
  return { replayed, body };
}

/** What a finished gift answers an opening, from PostgreSQL. */
async function refusalAfterEnd(deps: Pick<GiftDeps, 'pool'>, g: Gift, userId: string): Promise<DomainError> {
  const earlier = await openingOf(deps.pool, g.id, userId);
  if (earlier) return new DomainError('ALREADY_OPENED', 'You have already opened this gift', { gift_id: g.id, amount_received: amountToJson(earlier.amount, g.currency), your_rank: earlier.rank });
  if (g.status === 'expired' || g.status === 'failed') return new DomainError('GIFT_EXPIRED', 'The gift has expired', { gift_id: g.id });
  return new DomainError('GIFT_EMPTY', 'Gift has already been fully opened', { gift_id: g.id });
}

/** PROTO 7.5.3: a member opens the gift (a Workflow Update; openings are taken one at a time). */
export async function openGiftFor(deps: GiftDeps, userId: string, giftId: string) {
  const g = await giftById(deps.pool, giftId);
  if (!g) throw new DomainError('NOT_FOUND', 'Gift not found', { gift_id: giftId });
  if (!(await deps.rooms.joinedIn(g.room_id, [userId])).has(userId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Only joined members of the room can open this gift', { gift_id: giftId, room_id: g.room_id });
  }
  // A second opening is refused (409 ALREADY_OPENED, with what the first received), not answered
  // as the first: the Update gets an id of its own each time.
  const outcome = await updateSaga(deps, { workflowId: giftWorkflowId(giftId), update: openGiftUpdate, arg: { userId }, fields: { gift_id: giftId }, unavailable: UNAVAILABLE });
  // The saga's ALREADY_OPENED counts in minor units: answer it as a finished gift's is (the decimal amount_received).
  if ('refusal' in outcome) throw outcome.refusal.code === 'ALREADY_OPENED' ? await refusalAfterEnd(deps, g, userId) : outcome.refusal;
  if ('finished' in outcome) throw await refusalAfterEnd(deps, (await giftById(deps.pool, giftId))!, userId);
  const { answer } = outcome;
  return {
    gift_id: g.id,
    amount_received: amountToJson(BigInt(answer.opening.amountMinor), g.currency),
    currency: g.currency,
    ...(g.message ? { message: g.message } : {}),
    sender: { user_id: g.sender_user_id },
    opened_at: answer.opening.openedAt,
    stats: { total_opened: answer.totalOpened, total_remaining: answer.remaining, your_rank: answer.opening.rank },
  };
}

/** A gift's state, openings and leaderboard, to members of its room. */
export async function getGift(deps: Pick<GiftDeps, 'pool' | 'rooms'>, userId: string, giftId: string) {
  const g = await giftById(deps.pool, giftId);
  if (!g || !(await deps.rooms.joinedIn(g.room_id, [userId])).has(userId)) throw new DomainError('NOT_FOUND', 'Gift not found', { gift_id: giftId });
  const openings = await openingsOf(deps.pool, g.id);
  const asOpening = (o: (typeof openings)[number]): Opening => ({ userId: o.user_id, amountMinor: o.amount.toString(), rank: o.rank, openedAt: o.opened_at.toISOString() });
  const money = (minor: string | bigint) => amountToJson(BigInt(minor), g.currency);
  return {
    gift_id: g.id,
    type: g.type,
    status: g.status,
    room_id: g.room_id,
    sender: { user_id: g.sender_user_id },
    ...(g.recipient_user_id ? { recipient: g.recipient_user_id } : {}),
    total_amount: money(g.total_amount),
    currency: g.currency,
    count: g.count,
    remaining: g.remaining_count,
    distribution: g.distribution,
    ...(g.message ? { message: g.message } : {}),
    opened_by: openings.map((o) => ({ user_id: o.user_id, amount: money(o.amount), rank: o.rank, opened_at: o.opened_at.toISOString() })),
    leaderboard: leaderboard(openings.map(asOpening)).map((o) => ({ user: o.userId, amount: money(o.amountMinor) })),
    ...(g.status === 'expired' ? { refunded_amount: money(g.refunded_amount) } : {}),
    ...(g.event_id ? { event_id: g.event_id } : {}),
    created_at: g.created_at.toISOString(),
    expires_at: g.expires_at.toISOString(),
    ...(g.finished_at ? { finished_at: g.finished_at.toISOString() } : {}),
  };
}

/** Gifts past their expiry whose workflow is not there to end them (its start failed): starting it ends them. */
export async function sweepStaleGifts(deps: Pick<GiftDeps, 'pool' | 'temporal' | 'log' | 'config' | 'clock'>, graceMs: number): Promise<number> {
  const stale = await staleGifts(deps.pool, new Date(deps.clock.now().getTime() - graceMs), 100);
  for (const g of stale) {
    await startIdempotently<typeof giftSaga>(deps.temporal, deps.log, 'giftSaga', { workflowId: giftWorkflowId(g.id), args: [sagaInput(deps, g, deps.clock.now())] }, { gift_id: g.id });
  }
  return stale.length;
}
