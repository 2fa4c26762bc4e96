import { displayAmount, formatAmount } from './money';
import type { PaymentInput } from './payments';

export const PAYMENT_COMPLETED_EVENT_TYPE = 'm.tween.payment.completed';
export const PAYMENT_FAILED_EVENT_TYPE = 'm.tween.payment.failed';
export const PAYMENT_REFUNDED_EVENT_TYPE = 'm.tween.payment.refunded';
export const PAYMENT_REQUEST_EVENT_TYPE = 'm.tween.payment.request';
/** Not in PROTO (which has no cancellation): named as its siblings are. */
export const PAYMENT_CANCELLED_EVENT_TYPE = 'm.tween.payment.cancelled';

type Outcome = { status: 'completed'; txnId: string; at: string } | { status: 'failed'; code: string; at: string } | { status: 'cancelled'; by: 'payer' | 'merchant'; at: string };

/** The event type of a payment's outcome. */
export const paymentOutcomeEventType = (status: Outcome['status']) =>
  status === 'completed' ? PAYMENT_COMPLETED_EVENT_TYPE : status === 'failed' ? PAYMENT_FAILED_EVENT_TYPE : PAYMENT_CANCELLED_EVENT_TYPE;

/**
 * PROTO 8.1.2's payment request, in the room the payment names, when it is asked: the app, and the
 * payment's id, amount, currency and description; with a body and msgtype for clients that show
 * only those. Its outcome's event refers to it (m.reference).
 */
export function paymentRequestContent(input: PaymentInput) {
  const amount = BigInt(input.amountMinor);
  const decimal = formatAmount(amount, input.currency);
  return {
    msgtype: 'm.tween.payment',
    body: `${input.merchantName} asks ${displayAmount(amount, input.currency)} for ${input.description}`,
    miniapp_id: input.clientId,
    payment: { payment_id: input.paymentId, amount: decimal, currency: input.currency, description: input.description },
    payment_id: input.paymentId,
    payer: { user_id: input.payer.userId },
    merchant: { miniapp_id: input.clientId, name: input.merchantName },
    status: 'pending_authorization',
  };
}

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
export function paymentEventContent(input: PaymentInput, outcome: Outcome) {
  const amount = BigInt(input.amountMinor);
  const shown = displayAmount(amount, input.currency);
  const decimal = formatAmount(amount, input.currency);
  const completed = outcome.status === 'completed';
  return {
    msgtype: 'm.tween.payment',
    body: `Payment of ${shown} to ${input.merchantName} ${outcome.status}${outcome.status === 'cancelled' ? ` by the ${outcome.by}` : ''}`,
    payment_type: outcome.status,
    visual: completed
      ? { card_type: 'payment_receipt', icon: 'payment_completed', background_color: '#4CAF50' }
      : outcome.status === 'failed'
        ? { card_type: 'payment_receipt', icon: 'payment_failed', background_color: '#F44336' }
        : { card_type: 'payment_receipt', icon: 'payment_cancelled', background_color: '#9E9E9E' },
    payment_id: input.paymentId,
    ...(outcome.status === 'completed' ? { txn_id: outcome.txnId } : outcome.status === 'failed' ? { error_code: outcome.code } : { cancelled_by: outcome.by }),
    transaction: { ...(outcome.status === 'completed' ? { txn_id: outcome.txnId } : {}), amount: decimal, currency: input.currency },
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
