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
 * The room event of a payment: PROTO 4.11.4's rich card (payment_type, visual, transaction, sender,
 * recipient, note, actions) with PROTO 7.3.3's fields beside it (payment_id, txn_id, amount,
 * merchant, status). Sent by the payments bot. Amounts are decimal strings: Matrix canonical JSON
 * has no floats.
 */
export function paymentEventContent(input: PaymentInput, outcome: { status: 'completed'; txnId: string; at: string } | { status: 'failed'; code: string; at: string }) {
  const amount = BigInt(input.amountMinor);
  const shown = displayAmount(amount, input.currency);
  const decimal = formatAmount(amount, input.currency);
  const completed = outcome.status === 'completed';
  return {
    msgtype: 'm.tween.payment',
    body: completed ? `Payment of ${shown} to ${input.merchantName} completed` : `Payment of ${shown} to ${input.merchantName} failed`,
    payment_type: outcome.status,
    visual: completed
      ? { card_type: 'payment_receipt', icon: 'payment_completed', background_color: '#4CAF50' }
      : { card_type: 'payment_receipt', icon: 'payment_failed', background_color: '#F44336' },
    payment_id: input.paymentId,
    ...(completed ? { txn_id: outcome.txnId } : { error_code: outcome.code }),
    transaction: { ...(completed ? { txn_id: outcome.txnId } : {}), amount: decimal, currency: input.currency },
    amount: decimal,
    currency: input.currency,
    sender: { user_id: input.payer.userId },
    payer: { user_id: input.payer.userId },
    recipient: { miniapp_id: input.clientId, name: input.merchantName },
    merchant: { miniapp_id: input.clientId, name: input.merchantName },
    note: input.description,
    description: input.description,
    status: outcome.status,
    timestamp: outcome.at,
    actions: [{ type: 'view_receipt', label: 'View Details', endpoint: `/api/v1/payments/${input.paymentId}` }],
  };
}
