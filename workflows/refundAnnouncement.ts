import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { PAYMENT_REFUNDED_EVENT_TYPE, refundWorkflowId, type RefundAnnouncement } from '../src/domain/paymentEvents';
import { localLedger as db, matrix } from './common';

/**
 * Tells the payment's room of a refund (`m.tween.payment.refunded`, from the payments bot), with
 * the room events' retries, after the refund was written (the API starts it after commit; the
 * sweeper starts one left behind). The outcome is recorded on the refund.
 */
export async function refundAnnouncement(input: RefundAnnouncement): Promise<void> {
  try {
    const sent = await matrix.sendMatrixEvent({ roomId: input.roomId, type: PAYMENT_REFUNDED_EVENT_TYPE, content: input.content, txnId: `${refundWorkflowId(input.refundId)}.refunded` });
    await db.recordRefundEvent({ refundId: input.refundId, eventId: sent.eventId, error: sent.eventId ? undefined : 'skipped: Matrix is off' });
  } catch (err) {
    const failure = err instanceof ActivityFailure ? err.cause : err;
    if (!(failure instanceof ApplicationFailure) && !(err instanceof ActivityFailure)) throw err;
    await db.recordRefundEvent({ refundId: input.refundId, error: failure instanceof ApplicationFailure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' });
  }
}
