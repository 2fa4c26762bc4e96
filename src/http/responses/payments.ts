import { z } from 'zod';
import { PAYMENT_STATES, MFA_METHODS, type MfaMethod } from '../../domain/payments';
import type { refundPayment } from '../../ledger/payments';
import { appWebhookLog, paymentWebhookLog, redeliverWebhook } from '../../miniapps/webhookStarter';
import { getPaymentForMerchant, getPaymentForPayer, verifyMfaAnswer } from '../../payments/payments';
import { outcome, paymentView } from '../../payments/views';
import { acceptWalletCallback } from '../../wallet/providerCallbacks';
import { AmountAnswer, CurrencyCode, describes, Instant } from './common';

const Payer = z.object({ user_id: z.string(), wallet_id: z.string() });
const MfaMethodName = z.enum(Object.keys(MFA_METHODS) as [MfaMethod, ...MfaMethod[]]);

/**
 * PROTO 7.3.1: the request's answer, stored with the payment and answered again to a repeat. No
 * builder to check it against: requestPayment answers the stored JSON (a record to TypeScript).
 */
export const PaymentRequested = z.object({
  payment_id: z.string(),
  status: z.literal('pending_authorization'),
  amount: AmountAnswer,
  currency: CurrencyCode,
  description: z.string(),
  merchant_order_id: z.string().optional(),
  merchant: z.object({ miniapp_id: z.string(), name: z.string() }),
  authorization_required: z.literal(true),
  expires_at: Instant,
  created_at: Instant,
});

/** A payment as its payer and its merchant's backend see it. */
export const PaymentAnswer = describes(
  z.object({
    payment_id: z.string(),
    status: z.enum(PAYMENT_STATES),
    amount: AmountAnswer,
    currency: CurrencyCode,
    description: z.string(),
    merchant_order_id: z.string().optional(),
    // Stored as checked at the request (item_id, name, quantity, unit_price); a record each to TypeScript.
    items: z.array(z.record(z.unknown())).optional(),
    txn_id: z.string().optional(),
    refunded_amount: AmountAnswer.optional(),
    payer: Payer,
    merchant: z.object({ miniapp_id: z.string() }),
    room_id: z.string().optional(),
    status_reason: z.string().optional(),
    event_id: z.string().optional(),
    created_at: Instant,
    expires_at: Instant,
    authorized_at: Instant.optional(),
    completed_at: Instant.optional(),
    failed_at: Instant.optional(),
    expired_at: Instant.optional(),
    cancelled_at: Instant.optional(),
  }),
  paymentView,
  getPaymentForPayer,
  getPaymentForMerchant,
);

/** PROTO-mfa 7.4.2: a second factor is asked for. */
const MfaRequired = z.object({
  payment_id: z.string(),
  status: z.literal('mfa_required'),
  mfa_challenge: z.object({
    challenge_id: z.string(),
    methods: z.array(z.object({ type: MfaMethodName, enabled: z.boolean(), display_name: z.string() })),
    required_method: z.literal('any'),
    expires_at: Instant,
    max_attempts: z.number().int(),
    attempts_remaining: z.number().int(),
  }),
});

/** PROTO 7.3.3: where the payment stands after the call (completed, processing, failed...). */
const PaymentState = z.object({
  payment_id: z.string(),
  status: z.enum(PAYMENT_STATES),
  txn_id: z.string().optional(),
  amount: AmountAnswer,
  currency: CurrencyCode,
  payer: Payer,
  merchant: z.object({ miniapp_id: z.string() }),
  completed_at: Instant.optional(),
  event_id: z.string().optional(),
});

/** The answer to authorize and to a new challenge. Not discriminated: a snapshot may say mfa_required without its challenge. */
export const PaymentOutcome = describes(z.union([MfaRequired, PaymentState]), outcome);

export const MfaVerified = describes(
  z.object({ payment_id: z.string(), challenge_id: z.string(), status: z.literal('verified'), proceed_to_processing: z.literal(true), payment: PaymentOutcome }),
  verifyMfaAnswer,
);

/** The refund as refundPayment builds and stores it; a repeat answers the stored one (a record to TypeScript). */
type BuiltRefund = Extract<Awaited<ReturnType<typeof refundPayment>>['body'], { refund_id: unknown }>;

/** PROTO 7.4. */
export const RefundAnswer = describes(
  z.object({
    refund_id: z.string(),
    payment_id: z.string(),
    status: z.enum(['refunded', 'partially_refunded']),
    amount: AmountAnswer,
    currency: CurrencyCode,
    refunded_amount: AmountAnswer,
    refundable_amount: AmountAnswer,
    txn_id: z.string(),
    reason: z.string().optional(),
    created_at: Instant,
  }),
  (built: BuiltRefund) => built,
);

const WebhookEvent = z.object({
  event_id: z.string(),
  event: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  created_at: Instant,
  finished_at: Instant.optional(),
  attempts: z.array(z.object({ attempt: z.number().int(), attempted_at: Instant, http_status: z.number().int().nullable(), duration_ms: z.number(), error: z.string().nullable() })),
});

export const WebhookLog = describes(z.object({ payment_id: z.string(), events: z.array(WebhookEvent) }), paymentWebhookLog);

/** A mini-app's latest webhook events, of every kind, for its developer. */
export const AppWebhookLog = describes(z.object({ client_id: z.string(), events: z.array(WebhookEvent) }), appWebhookLog);

export const Redelivery = describes(
  z.object({ event_id: z.string(), status: z.literal('pending'), redelivery: z.number().int(), workflow_id: z.string() }),
  redeliverWebhook,
);

/** PROTO 4.11.8: the room event of the reported payment (null while it is still being sent), and whether it was a repeat. */
export const WalletCallbackAnswer = describes(
  z.object({ event_id: z.string().nullable(), idempotent: z.boolean(), transaction_id: z.string() }),
  acceptWalletCallback,
);
