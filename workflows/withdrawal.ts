import { ActivityFailure, allHandlersFinished, condition, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { TMCP_STATUS } from '../src/domain/searchAttributes';
import type { Activities } from '../activities';
import type { WithdrawalInput, WithdrawalSnapshot } from '../src/domain/withdrawals';
import { workflowNow } from './clock';
import { domainFailure, LOCAL_STEPS, refuse, ROOM_EVENTS } from './common';
import { payoutReported, startWithdrawal, withdrawalState } from './withdrawalMessages';

const { holdWithdrawal, settleWithdrawal, returnWithdrawal } = proxyLocalActivities<Activities>(LOCAL_STEPS);
const { announceWithdrawal } = proxyActivities<Activities>(ROOM_EVENTS);
const PROVIDER_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;
type PayoutStatus = Awaited<ReturnType<Activities['readProviderPayout']>>;
const { readProviderPayout } = proxyActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: PROVIDER_RETRY });

const { readProviderPayout: readOnce } = proxyActivities<Activities>({ startToCloseTimeout: '15 seconds', scheduleToCloseTimeout: '1 minute', retry: PROVIDER_RETRY });

/** What the provider says of the payout, if it answers within a minute: the deadline has passed, and the money must not wait on it. */
async function lastLook(withdrawalId: string): Promise<PayoutStatus> {
  try {
    return await readOnce({ withdrawalId });
  } catch (err) {
    if (err instanceof ActivityFailure) return 'pending';
    throw err;
  }
}

/** A start that never comes (its request failed before the Update was delivered) ends the withdrawal after this. */
const START_WINDOW_MS = 10 * 60_000;

/**
 * One withdrawal or merchant payout (PROTO 6.6), `withdrawal-<id>`. The owner's start (an Update)
 * checks the user's proof and holds the money in the withdrawal's payout account. Then the provider
 * is asked to pay out, retried with the same idempotency key until it answers or the deadline
 * passes; a callback only wakes the saga, and what the provider answers when asked decides. Paid:
 * the held money settles to the provider's clearing account. Failed, refused, or not confirmed by
 * the deadline: it goes back to its source. A payout the provider confirms after that is never
 * moved again: the callback marks it for operators to reconcile (src/withdrawals/withdrawals.ts).
 */
export async function withdrawalSaga(input: WithdrawalInput): Promise<WithdrawalSnapshot> {
  const { withdrawalId } = input;
  const snapshot: WithdrawalSnapshot = { withdrawalId, status: 'pending' };
  const deadline = workflowNow() + input.deadlineMs;
  let starting = false;
  let woken = false;

  // v3: operators see where each withdrawal stands (TmcpStatus), not only that it started.
  const publishStatus = () => {
    if (patched('withdrawal-status')) upsertSearchAttributes([{ key: TMCP_STATUS, value: snapshot.status }]);
  };

  setHandler(withdrawalState, () => snapshot);
  setHandler(payoutReported, () => {
    woken = true;
  });
  setHandler(
    startWithdrawal,
    async ({ proof }) => {
      starting = true;
      try {
        await holdWithdrawal({ withdrawalId, ...(proof ? { proof } : {}) });
        snapshot.status = 'processing';
        return { ...snapshot };
      } catch (err) {
        const failure = domainFailure(err);
        await returnWithdrawal({ withdrawalId, status: 'failed', reason: failure?.type ?? 'error' });
        snapshot.status = 'failed';
        snapshot.reason = failure?.type ?? 'error';
        throw failure ?? err;
      } finally {
        starting = false;
      }
    },
    {
      validator: ({ ownerId }) => {
        if (ownerId !== input.ownerId) refuse('NOT_FOUND', 'Withdrawal not found', { withdrawal_id: withdrawalId });
        if (starting) refuse('INVALID_STATE', 'The withdrawal is being started; ask again in a moment', { withdrawal_id: withdrawalId, status: 'pending' });
        if (snapshot.status !== 'pending') refuse('INVALID_STATE', `The withdrawal is ${snapshot.status}`, { withdrawal_id: withdrawalId, status: snapshot.status });
      },
    },
  );

  const end = async (status: 'failed' | 'expired', reason: string) => {
    await returnWithdrawal({ withdrawalId, status, reason });
    snapshot.status = status;
    snapshot.reason = reason;
  };

  if (!(await condition(() => snapshot.status !== 'pending' && !starting, START_WINDOW_MS))) {
    await condition(() => !starting);
    if (snapshot.status === 'pending') await end('failed', 'NEVER_STARTED');
  }
  publishStatus();
  if (snapshot.status !== 'processing') {
    await condition(allHandlersFinished);
    return snapshot;
  }

  // Retried with the same idempotency key until the provider answers, but not past the deadline.
  const { createProviderPayout } = proxyActivities<Activities>({
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: Math.max(1000, deadline - workflowNow()),
    retry: PROVIDER_RETRY,
  });
  let status: PayoutStatus = 'pending';
  let refusal: string | undefined;
  try {
    const made = await createProviderPayout({ withdrawalId });
    snapshot.providerRef = made.providerRef;
    status = made.status;
  } catch (err) {
    const failure = domainFailure(err);
    if (failure) refusal = failure.message;
    else if (!(err instanceof ActivityFailure)) throw err;
    // v4: the provider may have made the payout though no answer reached us by the deadline; its
    // callback then recorded the payout's reference (src/withdrawals/withdrawals.ts), and one last
    // look settles a payout already paid instead of giving its money back and flagging it.
    else if (patched('withdrawal-last-look')) status = await lastLook(withdrawalId);
  }

  while (status === 'pending' && snapshot.providerRef !== undefined && workflowNow() < deadline) {
    await condition(() => woken, Math.max(1, Math.min(input.pollIntervalMs, deadline - workflowNow())));
    woken = false;
    status = await readProviderPayout({ withdrawalId });
  }

  if (status === 'paid') {
    await settleWithdrawal({ withdrawalId });
    snapshot.status = 'completed';
  } else if (status === 'failed' || refusal !== undefined) {
    await end('failed', refusal ?? 'the provider reports the payout failed');
  } else {
    await end('expired', 'the provider did not confirm the payout by the deadline');
  }
  publishStatus();
  // v2: a user hears how it ended, in their direct room with the payments bot.
  if (input.ownerKind === 'user' && patched('withdrawal-notice')) {
    try {
      await announceWithdrawal({ withdrawalId });
    } catch (err) {
      if (!domainFailure(err) && !(err instanceof ActivityFailure)) throw err;
    }
  }
  await condition(allHandlersFinished);
  return snapshot;
}
