import { ActivityFailure, allHandlersFinished, ApplicationFailure, condition, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { TMCP_STATUS } from '../src/domain/searchAttributes';
import type { Activities } from '../activities';
import { distributeGift } from '../src/domain/giftDistribution';
import { GIFT_EVENT_TYPE, GIFT_EXPIRED_EVENT_TYPE, GIFT_OPENED_EVENT_TYPE, giftCreatedContent, giftExpiredContent, giftOpenedContent } from '../src/domain/giftEvents';
import type { GiftInput, GiftSnapshot, Opening } from '../src/domain/gifts';
import { giftState, openGiftUpdate, startGift } from './giftMessages';
import { workflowNow } from './clock';
import { domainFailure, LOCAL_STEPS, refuse, REMOTE_STEPS, roomEvents } from './common';

const { expireGift, failGift, fundGift } = proxyLocalActivities<Activities>(LOCAL_STEPS);
// Openings are regular activities: a gift takes many Updates at once, and a workflow task held open
// by local activities while more Updates arrive is what the SDK handles worst; each opening's task
// then completes at once and the next Updates come in the next one.
const { openGift, openGiftBatch } = proxyActivities<Activities>(REMOTE_STEPS);
const { sendMatrixEvent } = roomEvents();

/** v3: the openings that arrive while one batch is written are written together, in one activity (a burst of 200 openers is a few batches, not 200 round trips). */
const GIFT_BATCH_OPENINGS = 'gift-v3-batch-openings';

/** An opening waiting for its batch. */
interface Waiting {
  userId: string;
  resolve: (answer: { opening: Opening; totalOpened: number; remaining: number }) => void;
  reject: (err: unknown) => void;
}

/**
 * One gift (PROTO 7.5), from the sender's proof until every share is taken or it expires. The
 * sender's start and each opening are Workflow Updates; openings run one at a time, in the order
 * they arrive, each taking the next share. The shares are drawn once, at funding, from the
 * workflow's deterministic random source, so a replay draws the same. The activities write every
 * change to PostgreSQL, which refuses a second opening and an opening past the count by itself.
 */
export async function giftSaga(input: GiftInput): Promise<GiftSnapshot> {
  const { giftId } = input;
  const batched = patched(GIFT_BATCH_OPENINGS);
  const expiresAt = workflowNow() + input.expiresInMs;
  const snapshot: GiftSnapshot = { giftId, status: 'pending', remaining: input.count, openings: [], expiresAt: new Date(expiresAt).toISOString() };
  let shares: string[] = [];
  // The start is in progress: a second start is refused, and the expiry waits for it.
  let starting = false;
  let queue: Promise<unknown> = Promise.resolve();
  const sends: Promise<void>[] = [];
  const expired = () => workflowNow() >= expiresAt;

  /** One at a time, in arrival order. */
  const serially = <T>(body: () => Promise<T>): Promise<T> => {
    const run = queue.then(body);
    queue = run.catch(() => undefined);
    return run;
  };

  const announce = (type: string, content: Record<string, unknown>, slot: string) => {
    const sent = (async () => {
      try {
        const result = await sendMatrixEvent({ roomId: input.roomId, type, content, txnId: `${workflowInfo().workflowId}.${slot}` });
        if (slot === 'created' && result.eventId) snapshot.eventId = result.eventId;
      } catch (err) {
        if (!domainFailure(err) && !(err instanceof ActivityFailure)) throw err;
      }
    })();
    sends.push(sent);
    return sent;
  };

  // v2: TmcpStatus follows the gift (v1 left it at `pending`), so operators filter gifts by state.
  const setStatus = (status: GiftSnapshot['status']) => {
    snapshot.status = status;
    if (patched('gift-status')) upsertSearchAttributes([{ key: TMCP_STATUS, value: status }]);
  };

  setHandler(giftState, () => ({ ...snapshot, openings: [...snapshot.openings] }));

  setHandler(
    startGift,
    async ({ userId, proof }) => {
      starting = true;
      try {
        await fundGift({ giftId, userId, roomId: input.roomId, totalMinor: input.totalMinor, currency: input.currency, proof });
      } catch (err) {
        const failure = domainFailure(err);
        await failGift({ giftId, reason: failure?.type ?? 'error' });
        setStatus('failed');
        starting = false;
        throw failure ?? err;
      }
      starting = false;
      // Math.random here is the workflow's deterministic source (seeded per workflow, the same on replay).
      shares = distributeGift({ totalMinor: BigInt(input.totalMinor), count: input.count, distribution: input.distribution }, Math.random).map(String);
      setStatus('active');
      // The answer carries the event id when the homeserver answers within the wait.
      await Promise.race([announce(GIFT_EVENT_TYPE, giftCreatedContent(input), 'created'), sleep(Math.max(1, input.eventWaitMs))]);
      return { ...snapshot, openings: [] };
    },
    {
      validator: ({ userId }) => {
        if (userId !== input.sender.userId) refuse('NOT_FOUND', 'Gift not found', { gift_id: giftId });
        if (starting) refuse('INVALID_STATE', 'The gift is being created; ask again in a moment', { gift_id: giftId, status: 'pending' });
        if (snapshot.status !== 'pending') refuse('INVALID_STATE', `The gift is ${snapshot.status}`, { gift_id: giftId, status: snapshot.status });
        if (expired()) refuse('GIFT_EXPIRED', 'The gift expired before it was created', { gift_id: giftId });
      },
    },
  );

  /** Why this user may not open the gift now, if anything is in the way. */
  const refusal = (userId: string) => {
    if (input.type === 'group' && userId === input.sender.userId) refuse('INSUFFICIENT_PERMISSIONS', 'The sender cannot open their own group gift', { gift_id: giftId });
    if (input.type === 'individual' && userId !== input.recipientUserId) refuse('INSUFFICIENT_PERMISSIONS', 'This gift is for someone else', { gift_id: giftId });
    const earlier = snapshot.openings.find((o) => o.userId === userId);
    if (earlier) refuse('ALREADY_OPENED', 'You have already opened this gift', { gift_id: giftId, amount_received_minor: earlier.amountMinor, your_rank: earlier.rank });
    if (snapshot.status === 'expired' || (snapshot.status === 'active' && expired())) refuse('GIFT_EXPIRED', 'The gift has expired', { gift_id: giftId });
    if (snapshot.status === 'fully_opened' || snapshot.remaining === 0) refuse('GIFT_EMPTY', 'Gift has already been fully opened', { gift_id: giftId });
    if (snapshot.status !== 'active') refuse('INVALID_STATE', `The gift is ${snapshot.status}`, { gift_id: giftId, status: snapshot.status });
  };

  /** Records an opening the ledger made, and announces it. */
  const opened = (opening: Opening) => {
    snapshot.openings.push(opening);
    snapshot.remaining -= 1;
    if (snapshot.remaining === 0) setStatus('fully_opened');
    void announce(GIFT_OPENED_EVENT_TYPE, giftOpenedContent(input, opening, snapshot.openings, snapshot.remaining), `opened.${opening.rank}`);
    return { opening, totalOpened: snapshot.openings.length, remaining: snapshot.remaining };
  };

  // v3: openings wait here while a batch is written; the next batch takes every one that is still allowed.
  const waiting: Waiting[] = [];
  let writing = false;
  const writeBatches = async () => {
    writing = true;
    try {
      while (waiting.length > 0) {
        const asking: Waiting[] = [];
        const later: Waiting[] = [];
        for (const w of waiting.splice(0)) {
          // One opening per person per batch (a second waits for the first's answer), and no more than the shares left.
          if (asking.some((a) => a.userId === w.userId) || asking.length >= snapshot.remaining) {
            later.push(w);
            continue;
          }
          try {
            refusal(w.userId);
            asking.push(w);
          } catch (err) {
            w.reject(err);
          }
        }
        if (asking.length > 0) {
          let results;
          try {
            results = await openGiftBatch({ giftId, roomId: input.roomId, userIds: asking.map((a) => a.userId), shares });
          } catch (err) {
            const failure = domainFailure(err) ?? err;
            for (const a of asking) a.reject(failure);
            results = undefined;
          }
          results?.forEach((r, i) => {
            if ('refusal' in r) asking[i]!.reject(ApplicationFailure.create({ type: r.refusal.type, message: r.refusal.message, details: [r.refusal.details], nonRetryable: true }));
            else asking[i]!.resolve(opened({ userId: r.userId, amountMinor: r.amountMinor, rank: r.rank, openedAt: r.openedAt }));
          });
        }
        waiting.unshift(...later);
        // Those left over are asked again only once something changed (a share was taken or refused).
        if (asking.length === 0) {
          for (const w of waiting.splice(0)) {
            try {
              refusal(w.userId);
              w.reject(ApplicationFailure.create({ type: 'GIFT_EMPTY', message: 'Gift has already been fully opened', details: [{ gift_id: giftId }], nonRetryable: true }));
            } catch (err) {
              w.reject(err);
            }
          }
        }
      }
    } finally {
      writing = false;
    }
  };

  setHandler(
    openGiftUpdate,
    ({ userId }) =>
      batched
        ? new Promise((resolve, reject) => {
            waiting.push({ userId, resolve, reject });
            if (!writing) void writeBatches();
          })
        : serially(async () => {
        // Checked again in turn: the openings before this one may have taken the last share.
        refusal(userId);
        const rank = snapshot.openings.length + 1;
        let done;
        try {
          done = await openGift({ giftId, roomId: input.roomId, userId, amountMinor: shares[rank - 1]!, rank });
        } catch (err) {
          throw domainFailure(err) ?? err;
        }
        return opened({ userId, amountMinor: done.amountMinor, rank: done.rank, openedAt: done.openedAt });
      }),
    { validator: ({ userId }) => refusal(userId) },
  );

  // Until every share is taken, the gift failed, or it expires; openings in progress finish first.
  const over = () => snapshot.status === 'fully_opened' || snapshot.status === 'failed';
  if (!(await condition(over, Math.max(0, expiresAt - workflowNow())))) {
    // A start still funding the gift finishes first: its money is then refunded, not left in escrow.
    await condition(() => !starting);
    await serially(async () => undefined);
    await condition(() => !writing);
    if (snapshot.status === 'active') {
      const { refundedMinor } = await expireGift({ giftId });
      setStatus('expired');
      snapshot.refundedMinor = refundedMinor;
      void announce(GIFT_EXPIRED_EVENT_TYPE, giftExpiredContent(input, refundedMinor, snapshot.openings.length), 'expired');
    } else if (snapshot.status === 'pending') {
      await failGift({ giftId, reason: 'NEVER_FUNDED' });
      setStatus('failed');
    }
  }
  await Promise.all(sends);
  await condition(allHandlersFinished);
  return { ...snapshot, openings: [...snapshot.openings] };
}
