import { postEntryIn } from '../db/ledger';
import { addRefunded, changePaymentStatus, insertRefund, paymentById, refundByKey, type Payment } from '../db/payments';
import type { DatabasePool } from '../db/pool';
import { walletById } from '../db/wallets';
import { queueWebhookEvent } from '../db/webhooks';
import { DomainError } from '../domain/errors';
import { amountToJson } from '../domain/money';
import type { PaymentState } from '../domain/payments';
import { newId } from '../ids';
import { checkSendLimits } from './limits';

function notFound(paymentId: string): DomainError {
  return new DomainError('NOT_FOUND', 'Payment not found', { payment_id: paymentId });
}

function stateError(p: Payment, action: string): DomainError {
  return new DomainError('INVALID_STATE', `Cannot ${action} a payment in state ${p.status}`, { payment_id: p.id, status: p.status });
}

/** PROTO 9.1.2's payment.completed data. */
function completedData(p: Payment, txnId: string) {
  return {
    payment_id: p.id,
    transaction_id: txnId,
    amount: amountToJson(p.amount, p.currency),
    currency: p.currency,
    user_id: p.payer_user_id,
    miniapp_id: p.client_id,
    metadata: { ...(p.merchant_order_id ? { order_id: p.merchant_order_id } : {}), description: p.description },
  };
}

/**
 * Pays the merchant: one journal entry payer wallet to the mini-app's merchant account, the
 * payment's status, and its `payment.completed` webhook event (the outbox) in one transaction.
 * The payer's wallet and limits are checked again with the accounts locked. Safe to repeat: a
 * completed payment answers what it recorded.
 */
export async function postPayment(pool: DatabasePool, req: { paymentId: string; authMethod: string }) {
  return pool.transaction(async (tx) => {
    const p = await paymentById(tx, req.paymentId, true);
    if (!p) throw notFound(req.paymentId);
    if (p.status === 'completed') return { txnId: p.txn_id!, completedAt: p.completed_at!.toISOString(), webhookEventId: null };
    if (p.status !== 'pending_authorization' && p.status !== 'mfa_required' && p.status !== 'processing') throw stateError(p, 'complete');
    const posted = await postEntryIn(
      tx,
      {
        idempotencyKey: `payment:${p.id}:capture`,
        kind: 'payment',
        reference: p.id,
        metadata: { payment_id: p.id, client_id: p.client_id, ...(p.merchant_order_id ? { merchant_order_id: p.merchant_order_id } : {}) },
        postings: [
          { account: { kind: 'wallet', walletId: p.payer_wallet_id, currency: p.currency }, amount: -p.amount },
          { account: { kind: 'merchant', clientId: p.client_id, currency: p.currency }, amount: p.amount },
        ],
      },
      {
        guard: async (locked) => {
          const wallet = await walletById(locked, p.payer_wallet_id);
          if (!wallet || wallet.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_id: p.payer_wallet_id });
          await checkSendLimits(locked, wallet, p.amount);
        },
      },
    );
    const row = await changePaymentStatus(tx, p.id, { status: 'completed', from: [p.status], authMethod: req.authMethod, txnId: posted.txnId, authorized: true });
    const webhookEventId = await queueWebhookEvent(tx, { eventId: newId('webhookEvent'), clientId: p.client_id, event: 'payment.completed', data: completedData(p, posted.txnId), url: p.callback_url });
    return { txnId: posted.txnId, completedAt: row!.completed_at!.toISOString(), webhookEventId };
  });
}

/** A payment in one of these has ended: closing it again keeps its end. */
const PAYMENT_ENDED = new Set<PaymentState>(['completed', 'failed', 'expired', 'cancelled', 'partially_refunded', 'refunded']);

/**
 * Ends a payment without moving money: `failed` (MFA locked, funds gone at capture) with its
 * `payment.failed` webhook event, `cancelled` (by its payer or merchant) with `payment.cancelled`,
 * or `expired`. Safe to repeat; a payment already ended keeps its end.
 */
export async function closeUnpaidPayment(pool: DatabasePool, req: { paymentId: string; status: 'failed' | 'expired' | 'cancelled'; code: string; message: string }) {
  return pool.transaction(async (tx) => {
    const p = await paymentById(tx, req.paymentId, true);
    if (!p) throw notFound(req.paymentId);
    if (PAYMENT_ENDED.has(p.status)) return { status: p.status, webhookEventId: null };
    await changePaymentStatus(tx, p.id, { status: req.status, from: [p.status], reason: req.code });
    const webhook = (event: string, data: Record<string, unknown>) => queueWebhookEvent(tx, { eventId: newId('webhookEvent'), clientId: p.client_id, event, data, url: p.callback_url });
    const webhookEventId =
      req.status === 'failed'
        ? await webhook('payment.failed', { payment_id: p.id, error_code: req.code, error_message: req.message })
        : req.status === 'cancelled'
          ? await webhook('payment.cancelled', { payment_id: p.id, cancelled_by: req.code === 'CANCELLED_BY_PAYER' ? 'payer' : 'merchant', reason: req.message, ...(p.merchant_order_id ? { merchant_order_id: p.merchant_order_id } : {}) })
          : null;
    return { status: req.status, webhookEventId };
  });
}

export interface RefundRequest {
  paymentId: string;
  /** The rest of the captured amount when absent. */
  amount?: bigint;
  reason?: string;
  idempotencyKey: string;
  requestHash: string;
  /** The merchant backend's client id, or `admin`. */
  requestedBy: string;
}

/**
 * A refund (PROTO 7.4): one journal entry merchant to payer with its own key, the refund's row, the
 * payment's refunded amount and status, and the `payment.refunded` webhook event, in one transaction
 * holding the payment's row: concurrent refunds never pass the captured amount. Idempotent per
 * payment and key (a repeat answers the stored refund; another body with the key is 409).
 */
export async function refundPayment(pool: DatabasePool, req: RefundRequest) {
  return pool.transaction(async (tx) => {
    const p = await paymentById(tx, req.paymentId, true);
    if (!p) throw notFound(req.paymentId);
    const existing = await refundByKey(tx, p.id, req.idempotencyKey);
    if (existing) {
      if (existing.request_hash !== req.requestHash) {
        throw new DomainError('DUPLICATE_TRANSACTION', 'idempotency_key was already used for a different refund', { field: 'idempotency_key', refund_id: existing.id });
      }
      return { replayed: true, body: existing.response, webhookEventId: null, refundId: existing.id, payment: p };
    }
    if (p.status !== 'completed' && p.status !== 'partially_refunded') throw stateError(p, 'refund');
    const refundable = p.amount - p.refunded_amount;
    const amount = req.amount ?? refundable;
    if (amount > refundable) {
      const reason = `exceeds what is left to refund (${amountToJson(refundable, p.currency)} ${p.currency})`;
      throw new DomainError('INVALID_REQUEST', `amount: ${reason}`, { field: 'amount', reason, refundable_amount: amountToJson(refundable, p.currency), currency: p.currency });
    }
    const refundId = newId('refund');
    const posted = await postEntryIn(tx, {
      idempotencyKey: `payment:${p.id}:refund:${refundId}`,
      kind: 'payment_refund',
      reference: p.id,
      metadata: { payment_id: p.id, refund_id: refundId, ...(req.reason ? { reason: req.reason } : {}) },
      postings: [
        { account: { kind: 'merchant', clientId: p.client_id, currency: p.currency }, amount: -amount },
        { account: { kind: 'wallet', walletId: p.payer_wallet_id, currency: p.currency }, amount },
      ],
    });
    await addRefunded(tx, p.id, amount);
    const refunded = p.refunded_amount + amount;
    const body = {
      refund_id: refundId,
      payment_id: p.id,
      status: refunded === p.amount ? ('refunded' as const) : ('partially_refunded' as const),
      amount: amountToJson(amount, p.currency),
      currency: p.currency,
      refunded_amount: amountToJson(refunded, p.currency),
      refundable_amount: amountToJson(p.amount - refunded, p.currency),
      txn_id: posted.txnId,
      ...(req.reason ? { reason: req.reason } : {}),
      created_at: posted.createdAt.toISOString(),
    };
    await insertRefund(tx, { id: refundId, paymentId: p.id, amount, reason: req.reason, requestedBy: req.requestedBy, idempotencyKey: req.idempotencyKey, requestHash: req.requestHash, txnId: posted.txnId, response: body });
    const webhookEventId = await queueWebhookEvent(tx, {
      eventId: newId('webhookEvent'),
      clientId: p.client_id,
      event: 'payment.refunded',
      data: { payment_id: p.id, refund_id: refundId, amount: amountToJson(amount, p.currency), currency: p.currency, refunded_amount: body.refunded_amount },
      url: p.callback_url,
    });
    return { replayed: false, body, webhookEventId, refundId, payment: p };
  });
}
