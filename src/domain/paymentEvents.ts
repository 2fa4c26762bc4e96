import { displayAmount, formatAmount } from './money';
import type { PaymentInput } from './payments';

export const PAYMENT_COMPLETED_EVENT_TYPE = 'm.tween.payment.completed';
export const PAYMENT_FAILED_EVENT_TYPE = 'm.tween.payment.failed';
export const PAYMENT_REFUNDED_EVENT_TYPE = 'm.tween.payment.refunded';

/** What the room is told of a refund (sent by refundAnnouncement). */
export interface RefundAnnouncement {
  refundId: string;
  paymentId: string;
  roomId: string;
  content: Record<string, unknown>;
}

export const refundWorkflowId = (refundId: string) => `refund-${refundId}`;

/**
 * PROTO 7.3.3 / 4.17 `m.tween.payment.*` content, sent by the payments bot into the payment's room.
 * `amount` is a decimal string: Matrix canonical JSON has no floats.
 */
export function paymentEventContent(input: PaymentInput, outcome: { status: 'completed'; txnId: string; at: string } | { status: 'failed'; code: string; at: string }) {
  const amount = BigInt(input.amountMinor);
  const shown = displayAmount(amount, input.currency);
  return {
    msgtype: 'm.tween.payment',
    body: outcome.status === 'completed' ? `Payment of ${shown} to ${input.merchantName} completed` : `Payment of ${shown} to ${input.merchantName} failed`,
    payment_id: input.paymentId,
    ...(outcome.status === 'completed' ? { txn_id: outcome.txnId } : { error_code: outcome.code }),
    amount: formatAmount(amount, input.currency),
    currency: input.currency,
    description: input.description,
    payer: { user_id: input.payer.userId },
    merchant: { miniapp_id: input.clientId, name: input.merchantName },
    status: outcome.status,
    timestamp: outcome.at,
    visual: outcome.status === 'completed' ? { icon: '✓', color: 'green', status_text: 'Paid' } : { icon: '✕', color: 'red', status_text: 'Failed' },
  };
}
