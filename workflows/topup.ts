import { ActivityFailure, allHandlersFinished, condition, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { TMCP_STATUS } from '../src/domain/searchAttributes';
import type { Activities } from '../activities';
import type { TopUpInput, TopUpSnapshot } from '../src/domain/topups';
import { workflowNow } from './clock';
import { domainFailure, LOCAL_STEPS, refuse, ROOM_EVENTS } from './common';
import { providerReported, topUpCheckout, topUpState } from './topupMessages';

// Calls to the provider: regular activities, retried with the operation's idempotency key until
// the provider answers (a refusal it would repeat is not retried).
const { createProviderTopUp, readProviderTopUp } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { creditTopUp, closeTopUp } = proxyLocalActivities<Activities>(LOCAL_STEPS);
const { announceTopUp } = proxyActivities<Activities>(ROOM_EVENTS);

/**
 * One top-up: the provider's checkout, then waiting for the user to pay until the top-up expires.
 * A provider callback only wakes the saga: what the provider answers when asked decides (a
 * callback is a hint, never the truth), and without callbacks the saga asks every poll interval.
 * Paid: one ledger entry credits the wallet from the provider's clearing account (keyed by the
 * top-up, so once however often the provider says so), and the user hears of it in a room. Expired:
 * one last look first, so a payment made at the last moment is not lost.
 */
export async function topUpSaga(input: TopUpInput): Promise<TopUpSnapshot> {
  const { topUpId } = input;
  const snapshot: TopUpSnapshot = { topUpId, status: 'pending' };
  let woken = false;
  const deadline = workflowNow() + input.expiresInMs;

  // v3: operators filter top-ups by how they ended (TmcpStatus), not only by their start.
  const publishStatus = () => {
    if (patched('topup-status')) upsertSearchAttributes([{ key: TMCP_STATUS, value: snapshot.status }]);
  };

  setHandler(topUpState, () => snapshot);
  setHandler(providerReported, () => {
    woken = true;
  });
  setHandler(
    topUpCheckout,
    async () => {
      await condition(() => snapshot.checkout !== undefined || snapshot.status !== 'pending');
      if (!snapshot.checkout) refuse('PAYMENT_FAILED', 'The provider refused the top-up', { topup_id: topUpId });
      return snapshot.checkout;
    },
    {
      validator: ({ userId }) => {
        if (userId !== input.userId) refuse('NOT_FOUND', 'Top-up not found', { topup_id: topUpId });
      },
    },
  );

  try {
    snapshot.checkout = await createProviderTopUp({ topUpId });
  } catch (err) {
    const failure = domainFailure(err);
    if (!failure) throw err;
    await closeTopUp({ topUpId, status: 'failed', reason: failure.message });
    snapshot.status = 'failed';
    publishStatus();
    await condition(allHandlersFinished);
    return snapshot;
  }

  let status = 'pending';
  while (status === 'pending' && workflowNow() < deadline) {
    await condition(() => woken, Math.max(1, Math.min(input.pollIntervalMs, deadline - workflowNow())));
    woken = false;
    status = await readProviderTopUp({ topUpId });
  }
  if (status === 'succeeded') {
    const { txnId } = await creditTopUp({ topUpId });
    snapshot.status = 'succeeded';
    snapshot.txnId = txnId;
    // v2: the user hears of the credit (the named room, or their direct room with the payments bot).
    if (patched('topup-notice')) {
      try {
        await announceTopUp({ topUpId });
      } catch (err) {
        if (!domainFailure(err) && !(err instanceof ActivityFailure)) throw err;
      }
    }
  } else {
    const ended = status === 'failed' ? 'failed' : 'expired';
    await closeTopUp({ topUpId, status: ended, reason: ended === 'failed' ? 'the provider reports the payment failed' : 'not paid in time' });
    snapshot.status = ended;
  }
  publishStatus();
  await condition(allHandlersFinished);
  return snapshot;
}
