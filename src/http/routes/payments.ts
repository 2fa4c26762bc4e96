import Router from '@koa/router';
import { z } from 'zod';
import { isId } from '../../domain/ids';
import { DomainError, invalidField, type ErrorCode } from '../../domain/errors';
import { paymentWebhookLog, redeliverWebhook } from '../../miniapps/webhookStarter';
import { refund, type Refunder } from '../../payments/refunds';
import { authorize, cancelPaymentFor, getPaymentForMerchant, getPaymentForPayer, newMfaChallenge, requestPayment, verifyMfaAnswer, type PaymentDeps } from '../../payments/payments';
import { adminTokenCheck, bearerToken, type CallerGates } from '../middleware/auth';
import { confidentialClientOf, merchantUnauthorized } from '../middleware/merchant';
import { errorBody } from '../middleware/errors';
import { documented } from '../openapi/routeDoc';
import { MfaVerified, PaymentAnswer, PaymentOutcome, PaymentRequested, RefundAnswer, Redelivery, WebhookLog } from '../responses/payments';
import type { RateLimit } from '../middleware/rateLimit';
import { Base64Signature, clientUrl, DeviceId, IdempotencyKey, RoomId, Timestamp, WholeNumber, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const Item = z
  .object({
    item_id: z.string().min(1).max(128),
    name: z.string().min(1).max(200),
    quantity: WholeNumber(1, 10_000),
    unit_price: z.union([z.number(), z.string()]),
  })
  .strict();

const RequestBody = withMoney({
  description: z.string().trim().min(1).max(500),
  merchant_order_id: z.string().min(1).max(128).optional(),
  items: z.array(Item).min(1).max(100).optional(),
  callback_url: clientUrl('callback_url').optional(),
  room_id: RoomId.optional(),
  idempotency_key: IdempotencyKey,
});

const RefundBody = z
  .object({
    amount: z.union([z.number(), z.string()]).optional(),
    reason: z.string().trim().min(1).max(200).optional(),
    notes: z.string().max(1000).optional(),
    idempotency_key: IdempotencyKey,
  })
  .strict();

const CancelBody = z.object({ reason: z.string().trim().min(1).max(200).optional() }).strict();

const AuthorizeBody = z.object({ signature: Base64Signature, device_id: DeviceId, timestamp: Timestamp }).strict();

// PROTO-mfa 7.4.3 shows device_id and timestamp beside the credentials; a biometric answer carries its own inside.
const VerifyBody = z.discriminatedUnion('method', [
  z.object({ challenge_id: z.string().min(1).max(64), method: z.literal('transaction_pin'), credentials: z.object({ pin: z.string().regex(/^\d{4,8}$/, 'must be 4 to 8 digits') }).strict(), device_id: DeviceId.optional(), timestamp: Timestamp.optional() }).strict(),
  z.object({ challenge_id: z.string().min(1).max(64), method: z.literal('totp'), credentials: z.object({ code: z.string().regex(/^\d{6}$/, 'must be 6 digits') }).strict(), device_id: DeviceId.optional(), timestamp: Timestamp.optional() }).strict(),
  z.object({
    challenge_id: z.string().min(1).max(64),
    method: z.literal('biometric'),
    credentials: z.object({ attestation: Base64Signature, device_id: DeviceId, timestamp: Timestamp, biometric_type: z.string().max(32).optional(), platform: z.string().max(32).optional() }).strict(),
    device_id: DeviceId.optional(),
    timestamp: Timestamp.optional(),
  }).strict(),
]);

const doc = {
  request: documented({ summary: 'The mini-app asks its user to pay it (saga payment-<id>); the user then authorizes it', callers: ['mini-app'], body: RequestBody, responses: { 201: PaymentRequested } }),
  get: documented({ summary: 'One payment, to its payer through the requesting app or to its merchant', callers: ['mini-app', 'merchant'], responses: { 200: PaymentAnswer } }),
  refund: documented({ summary: "Give a completed payment back to its payer, all of it or part: its merchant's backend, an operator, or a backend-less app's developer through the app", callers: ['mini-app', 'merchant', 'operator'], body: RefundBody, responses: { 201: RefundAnswer } }),
  cancel: documented({ summary: 'Cancel a payment not yet authorized (nothing moved): its payer through the app, or its merchant', callers: ['mini-app', 'merchant'], body: CancelBody, responses: { 200: PaymentAnswer } }),
  webhooks: documented({ summary: "The payment's webhook events and every delivery attempt", callers: ['merchant'], responses: { 200: WebhookLog } }),
  redeliver: documented({ summary: 'Deliver a delivered or failed webhook event once more', callers: ['merchant'], responses: { 202: Redelivery } }),
  authorize: documented({ summary: "The payer's device signature: the payment completes, or a second factor is asked for", callers: ['mini-app'], body: AuthorizeBody, responses: { 200: PaymentOutcome } }),
  challenge: documented({ summary: 'A new second-factor challenge for a payment waiting for one', callers: ['mini-app'], responses: { 200: PaymentOutcome } }),
  verify: documented({ summary: 'One answer to the challenge; success completes the payment', callers: ['mini-app'], body: VerifyBody, responses: { 200: MfaVerified } }),
};

function paymentIdOf(ctx: AppContext): string {
  const id = ctx.params.payment_id;
  if (!isId('payment', id)) throw invalidField('payment_id', 'must be a payment id like pay_...');
  return id;
}

/** Mini-app payments (PROTO 7.3, 7.4, PROTO-mfa 7.4): each payment is the workflow `payment-<id>`. */
/** A wrong second factor: the PIN or code (INVALID_MFA_CREDENTIALS, PROTO 12.2's name for PROTO-mfa's INVALID_CREDENTIALS) or the device's signature. */
const WRONG_CREDENTIAL = new Set<ErrorCode>(['INVALID_MFA_CREDENTIALS', 'INVALID_SIGNATURE']);

export function paymentRoutes(deps: PaymentDeps, auth: CallerGates['tep'], adminToken: string | undefined, limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/payments' });
  const payer = auth('wallet:pay');
  // Merchant backends are limited by their client and address (they authenticate in the handler).
  const limited = limit('default');
  const isAdmin = adminTokenCheck(adminToken);

  const unauthorized = merchantUnauthorized;
  const confidentialClient = (ctx: AppContext) => confidentialClientOf(ctx, deps.pool);

  async function refundAs(ctx: AppContext, refunder: Refunder): Promise<void> {
    const id = paymentIdOf(ctx);
    const body = parseInput(RefundBody, ctx.request.body ?? {});
    const result = await refund(deps, refunder, id, { amount: body.amount, reason: body.reason, idempotencyKey: body.idempotency_key });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = 201;
    ctx.body = result.body;
  }

  /** The merchant's backend of this payment, or 401/404. */
  async function merchantOf(ctx: AppContext, paymentId: string): Promise<void> {
    const client = await confidentialClient(ctx);
    if (!client) throw unauthorized(ctx, "The merchant backend's client credentials are needed");
    await getPaymentForMerchant(deps, client, paymentId);
  }

  router.post('/request', doc.request, payer, limit('payment_initiation'), async (ctx) => {
    const body = parseInput(RequestBody, ctx.request.body ?? {});
    const tep = ctx.state.tep!;
    const result = await requestPayment(deps, { userId: tep.userId, clientId: tep.clientId }, {
      amount: body.amount,
      currency: body.currency,
      description: body.description,
      merchantOrderId: body.merchant_order_id,
      items: body.items,
      callbackUrl: body.callback_url,
      roomId: body.room_id,
      idempotencyKey: body.idempotency_key,
    });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = 201;
    ctx.body = result.body;
  });

  // The payer with a TEP, or the merchant's backend with its client credentials.
  router.get('/:payment_id', doc.get, async (ctx, next) => {
    const client = await confidentialClient(ctx);
    if (!client) return payer(ctx, next);
    return limited(ctx, async () => {
      ctx.body = await getPaymentForMerchant(deps, client, paymentIdOf(ctx));
    });
  }, limited, async (ctx) => {
    ctx.body = await getPaymentForPayer(deps, ctx.state.caller!, paymentIdOf(ctx));
  });

  // The payer with a TEP (wallet:pay), or the merchant's backend with its client credentials.
  router.post('/:payment_id/cancel', doc.cancel, async (ctx, next) => {
    const client = await confidentialClient(ctx);
    if (!client) return payer(ctx, next);
    return limited(ctx, async () => {
      const body = parseInput(CancelBody, ctx.request.body ?? {});
      ctx.body = await cancelPaymentFor(deps, { kind: 'merchant', client }, paymentIdOf(ctx), body.reason);
    });
  }, limit('payment_authorization'), async (ctx) => {
    const body = parseInput(CancelBody, ctx.request.body ?? {});
    ctx.body = await cancelPaymentFor(deps, { kind: 'payer', caller: ctx.state.caller! }, paymentIdOf(ctx), body.reason);
  });

  // The merchant's backend (Basic, its confidential client), an operator (the admin token), or a
  // backend-less app's developer with their TEP of the app (src/payments/refunds.ts).
  router.post('/:payment_id/refund', doc.refund, async (ctx, next) => {
    const client = await confidentialClient(ctx);
    if (client) return limited(ctx, () => refundAs(ctx, { kind: 'client', client }));
    if (isAdmin(bearerToken(ctx))) return limited(ctx, () => refundAs(ctx, { kind: 'admin' }));
    return payer(ctx, next);
  }, limited, async (ctx) => {
    const caller = ctx.state.caller!;
    await refundAs(ctx, { kind: 'developer', userId: caller.userId, clientId: caller.clientId });
  });

  router.get('/:payment_id/webhooks', doc.webhooks, limited, async (ctx) => {
    const id = paymentIdOf(ctx);
    await merchantOf(ctx, id);
    ctx.body = await paymentWebhookLog(deps, id);
  });

  router.post('/:payment_id/webhooks/:event_id/redeliver', doc.redeliver, limited, async (ctx) => {
    const id = paymentIdOf(ctx);
    await merchantOf(ctx, id);
    const eventId = ctx.params.event_id;
    if (!isId('webhookEvent', eventId)) throw invalidField('event_id', 'must be a webhook event id like evt_...');
    ctx.status = 202;
    ctx.body = await redeliverWebhook(deps, id, eventId);
  });

  router.post('/:payment_id/authorize', doc.authorize, payer, limit('payment_authorization'), async (ctx) => {
    const id = paymentIdOf(ctx);
    const body = parseInput(AuthorizeBody, ctx.request.body ?? {});
    ctx.body = await authorize(deps, ctx.state.caller!, id, { signature: body.signature, deviceId: body.device_id, timestamp: body.timestamp });
  });

  router.post('/:payment_id/mfa/challenge', doc.challenge, payer, limit('payment_authorization'), async (ctx) => {
    ctx.body = await newMfaChallenge(deps, ctx.state.caller!, paymentIdOf(ctx));
  });

  router.post('/:payment_id/mfa/verify', doc.verify, payer, limit('payment_authorization'), async (ctx) => {
    const id = paymentIdOf(ctx);
    const body = parseInput(VerifyBody, ctx.request.body ?? {});
    try {
      ctx.body = await verifyMfaAnswer(deps, ctx.state.caller!, id, body.challenge_id, body);
    } catch (err) {
      if (!(err instanceof DomainError) || !WRONG_CREDENTIAL.has(err.code)) throw err;
      // PROTO-mfa 7.4.3's failure answer around PROTO 12.1's error: the payment and challenge, status
      // failed, attempts_remaining inside the error, and whether another answer may follow.
      const remaining = Number(err.details?.attempts_remaining ?? 0);
      ctx.status = err.status;
      ctx.body = { payment_id: id, challenge_id: body.challenge_id, status: 'failed', ...errorBody(ctx, err.code, err.message, { ...err.details, attempts_remaining: remaining }, true), retry_allowed: remaining > 0 };
    }
  });

  return router;
}
