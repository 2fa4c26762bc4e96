import { createHash } from 'node:crypto';
import { TMCP_ROOM_ID } from '../domain/searchAttributes';
import type { OAuthClient } from '../db/miniapps';
import { miniappRecord } from '../db/miniapps';
import { developerById } from '../db/developers';
import { paymentById, refundById, unannouncedRefunds, type Payment } from '../db/payments';
import { DomainError } from '../domain/errors';
import { displayAmount, formatAmount, parseAmount } from '../domain/money';
import { refundWorkflowId, type RefundAnnouncement } from '../domain/paymentEvents';
import { refundPayment } from '../ledger/payments';
import { startWebhookDeliveries } from '../miniapps/webhookStarter';
import { startIdempotently } from '../temporal/client';
import type { refundAnnouncement } from '../../workflows/refundAnnouncement';
import type { PaymentDeps } from './payments';

type RefundDeps = Pick<PaymentDeps, 'pool' | 'temporal' | 'log' | 'config'>;

/**
 * Who asks for a refund: the merchant's backend (its confidential client), an operator, or, for an
 * app with no backend, its developer through the app itself (their TEP of the payment's app).
 */
export type Refunder = { kind: 'client'; client: OAuthClient } | { kind: 'admin' } | { kind: 'developer'; userId: string; clientId: string };

/**
 * PROTO 7.4 shows a refund asked with a TEP. A TEP is any user's, so only one user's may: the app's
 * enrolled developer (the merchant), through that app, and only where the app has no backend to
 * ask from (a public client). A payer holding the app's TEP is told the payment does not exist.
 */
async function mayRefund(deps: Pick<RefundDeps, 'pool'>, refunder: Refunder, p: Payment): Promise<boolean> {
  if (refunder.kind === 'admin') return true;
  if (refunder.kind === 'client') return refunder.client.client_id === p.client_id || refunder.client.backend_of === p.client_id;
  if (refunder.clientId !== p.client_id) return false;
  const app = await miniappRecord(deps.pool, p.client_id);
  if (!app || app.client_type !== 'public' || app.developer_id !== refunder.userId) return false;
  return (await developerById(deps.pool, refunder.userId))?.status === 'active';
}

function announcement(p: Payment, merchantName: string, refund: { id: string; amount: bigint; refundedAmount: bigint; at: string }): RefundAnnouncement {
  return {
    refundId: refund.id,
    paymentId: p.id,
    roomId: p.room_id!,
    content: {
      msgtype: 'm.tween.payment',
      body: `Refund of ${displayAmount(refund.amount, p.currency)} from ${merchantName}`,
      payment_type: 'refunded',
      transaction: { txn_id: p.txn_id, amount: formatAmount(refund.amount, p.currency), currency: p.currency },
      payment_id: p.id,
      refund_id: refund.id,
      amount: formatAmount(refund.amount, p.currency),
      refunded_amount: formatAmount(refund.refundedAmount, p.currency),
      currency: p.currency,
      payer: { user_id: p.payer_user_id },
      merchant: { miniapp_id: p.client_id, name: merchantName },
      status: refund.refundedAmount === p.amount ? 'refunded' : 'partially_refunded',
      timestamp: refund.at,
      visual: { card_type: 'payment_receipt', icon: 'payment_refunded', background_color: '#2196F3' },
      actions: [{ type: 'view_receipt', label: 'View Details', endpoint: `/api/v1/payments/${p.id}` }],
    },
  };
}

/** Starts the room announcement of a refund; a failed start is left to the sweeper. */
async function announce(deps: RefundDeps, input: RefundAnnouncement): Promise<void> {
  await startIdempotently<typeof refundAnnouncement>(
    deps.temporal,
    deps.log,
    'refundAnnouncement',
    {
      workflowId: refundWorkflowId(input.refundId),
      args: [input],
      staticSummary: `Room announcement of refund ${input.refundId} of payment ${input.paymentId}`,
      typedSearchAttributes: [{ key: TMCP_ROOM_ID, value: input.roomId }],
    },
    { refund_id: input.refundId },
  );
}

/**
 * PROTO 7.4: the merchant's backend (or an operator, or a backend-less app's developer) gives money back, all of it or part, once or
 * several times up to the captured amount. Answers the refund; a repeat of the same request answers
 * the stored one.
 */
export async function refund(deps: RefundDeps, refunder: Refunder, paymentId: string, req: { amount?: number | string; reason?: string; idempotencyKey: string }) {
  const p = await paymentById(deps.pool, paymentId);
  if (!p || !(await mayRefund(deps, refunder, p))) throw new DomainError('NOT_FOUND', 'Payment not found', { payment_id: paymentId });
  const amount = req.amount === undefined ? undefined : parseAmount(req.amount, p.currency, 'amount');
  const requestHash = createHash('sha256').update(JSON.stringify([amount?.toString() ?? null, req.reason ?? null])).digest('hex');
  const done = await refundPayment(deps.pool, {
    paymentId,
    amount,
    reason: req.reason,
    idempotencyKey: req.idempotencyKey,
    requestHash,
    requestedBy: refunder.kind === 'admin' ? 'admin' : refunder.kind === 'client' ? refunder.client.client_id : `developer:${refunder.userId}`,
  });
  if (done.webhookEventId) await startWebhookDeliveries(deps, [done.webhookEventId]);
  if (!done.replayed && p.room_id) {
    const name = (await miniappRecord(deps.pool, p.client_id))?.name ?? p.client_id;
    const amountMinor = parseAmount(done.body.amount, p.currency);
    const refunded = parseAmount(done.body.refunded_amount, p.currency);
    await announce(deps, announcement(p, name, { id: done.refundId, amount: amountMinor, refundedAmount: refunded, at: String(done.body.created_at) }));
  }
  deps.log.info({ payment_id: paymentId, refund_id: done.refundId, replayed: done.replayed }, 'payment refunded');
  return { replayed: done.replayed, body: done.body };
}

/** The sweeper's part: refunds in a room whose announcement never started. */
export async function sweepUnannouncedRefunds(deps: RefundDeps, graceMs: number): Promise<number> {
  const pending = await unannouncedRefunds(deps.pool, new Date(Date.now() - graceMs), 100);
  for (const { id, payment_id: paymentId } of pending) {
    const p = await paymentById(deps.pool, paymentId);
    const r = await refundById(deps.pool, id);
    if (!p || !r) continue;
    const name = (await miniappRecord(deps.pool, p.client_id))?.name ?? p.client_id;
    const refunded = parseAmount(r.response.refunded_amount as number, p.currency);
    await announce(deps, announcement(p, name, { id, amount: r.amount, refundedAmount: refunded, at: r.created_at.toISOString() }));
  }
  return pending.length;
}
