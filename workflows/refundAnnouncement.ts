import { ActivityFailure, ApplicationFailure, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { PAYMENT_REFUNDED_EVENT_TYPE, refundWorkflowId, type RefundAnnouncement } from '../src/domain/paymentEvents';
import { LOCAL_STEPS, roomEvents } from './common';

const { recordRefundEvent } = proxyLocalActivities<Activities>(LOCAL_STEPS);
const { sendMatrixEvent } = roomEvents();

/**
 * Tells the payment's room of a refund (`m.tween.payment.refunded`, from the payments bot), with
 * the room events' retries, after the refund was written (the API starts it after commit; the
 * sweeper starts one left behind). The outcome is recorded on the refund.
 */
export async function refundAnnouncement(input: RefundAnnouncement): Promise<void> {
  try {
    const sent = await sendMatrixEvent({ roomId: input.roomId, type: PAYMENT_REFUNDED_EVENT_TYPE, content: input.content, txnId: `${refundWorkflowId(input.refundId)}.refunded` });
    await recordRefundEvent({ refundId: input.refundId, eventId: sent.eventId, error: sent.eventId ? undefined : 'skipped: Matrix is off' });
  } catch (err) {
    const failure = err instanceof ActivityFailure ? err.cause : err;
    if (!(failure instanceof ApplicationFailure) && !(err instanceof ActivityFailure)) throw err;
    await recordRefundEvent({ refundId: input.refundId, error: failure instanceof ApplicationFailure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' });
  }
}
