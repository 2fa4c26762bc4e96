import { postEntryIn } from '../db/ledger';
import { changePaymentStatus, paymentById, type Payment } from '../db/payments';
import type { DatabasePool } from '../db/pool';
import { walletById } from '../db/wallets';
import { queueWebhookEvent } from '../db/webhooks';
import { DomainError } from '../domain/errors';
import { amountToJson } from '../domain/money';
import { newId } from '../ids';
import { checkSendLimits } from '../wallet/p2pLedger';

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
export async function settlePayment(pool: DatabasePool, req: { paymentId: string; authMethod: string }) {
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

/**
 * Ends a payment without moving money: `failed` (MFA locked, funds gone at capture) with its
 * `payment.failed` webhook event, or `expired`. Safe to repeat; a payment already ended keeps its end.
 */
export async function closePayment(pool: DatabasePool, req: { paymentId: string; status: 'failed' | 'expired'; code: string; message: string }) {
  return pool.transaction(async (tx) => {
    const p = await paymentById(tx, req.paymentId, true);
    if (!p) throw notFound(req.paymentId);
    if (p.status === 'completed' || p.status === 'failed' || p.status === 'expired') return { status: p.status, webhookEventId: null };
    await changePaymentStatus(tx, p.id, { status: req.status, from: [p.status], reason: req.code });
    const webhookEventId =
      req.status === 'failed'
        ? await queueWebhookEvent(tx, { eventId: newId('webhookEvent'), clientId: p.client_id, event: 'payment.failed', data: { payment_id: p.id, error_code: req.code, error_message: req.message }, url: p.callback_url })
        : null;
    return { status: req.status, webhookEventId };
  });
}
