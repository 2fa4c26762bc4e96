import type { Payment } from '../db/payments';
import { amountToJson } from '../domain/money';
import type { AuthProof } from '../domain/p2p';
import { MFA_METHOD_NAMES, type PaymentSnapshot } from '../domain/payments';
import { pinDigest } from '../factors/pin';

const iso = (d: Date | null | undefined) => d?.toISOString();

/** What the payer and the merchant's backend see of a payment. */
export function paymentView(p: Payment) {
  return {
    payment_id: p.id,
    status: p.status,
    amount: amountToJson(p.amount, p.currency),
    currency: p.currency,
    description: p.description,
    ...(p.merchant_order_id ? { merchant_order_id: p.merchant_order_id } : {}),
    ...(p.items ? { items: p.items } : {}),
    ...(p.txn_id ? { txn_id: p.txn_id } : {}),
    ...(p.refunded_amount > 0n ? { refunded_amount: amountToJson(p.refunded_amount, p.currency) } : {}),
    payer: { user_id: p.payer_user_id, wallet_id: p.payer_wallet_id },
    merchant: { miniapp_id: p.client_id },
    ...(p.room_id ? { room_id: p.room_id } : {}),
    ...(p.status_reason ? { status_reason: p.status_reason } : {}),
    ...(p.event_id ? { event_id: p.event_id } : {}),
    created_at: p.created_at.toISOString(),
    expires_at: p.expires_at.toISOString(),
    authorized_at: iso(p.authorized_at),
    completed_at: iso(p.completed_at),
    failed_at: iso(p.failed_at),
    expired_at: iso(p.expired_at),
    cancelled_at: iso(p.cancelled_at),
  };
}

/** The answer to authorize or to a verified challenge: PROTO 7.3.3 when completed, PROTO-mfa 7.4.2 when a factor is asked for. */
export function outcome(p: Payment, s: PaymentSnapshot) {
  if (s.status === 'mfa_required' && s.challenge) {
    return {
      payment_id: p.id,
      status: 'mfa_required' as const,
      mfa_challenge: {
        challenge_id: s.challenge.challengeId,
        methods: s.challenge.methods.map((type) => ({ type, enabled: true, display_name: MFA_METHOD_NAMES[type] })),
        required_method: 'any' as const,
        expires_at: s.challenge.expiresAt,
        max_attempts: s.challenge.maxAttempts,
        attempts_remaining: s.challenge.maxAttempts - s.challenge.attempts,
      },
    };
  }
  return {
    payment_id: p.id,
    status: s.status,
    ...(s.txnId ? { txn_id: s.txnId } : {}),
    amount: amountToJson(p.amount, p.currency),
    currency: p.currency,
    payer: { user_id: p.payer_user_id, wallet_id: p.payer_wallet_id },
    merchant: { miniapp_id: p.client_id },
    ...(s.completedAt ? { completed_at: s.completedAt } : {}),
    ...(s.eventId ? { event_id: s.eventId } : {}),
  };
}

export type MfaCredentials =
  | { method: 'transaction_pin'; credentials: { pin: string } }
  | { method: 'totp'; credentials: { code: string } }
  | { method: 'biometric'; credentials: { attestation: string; device_id: string; timestamp: string } };

/** The credentials as the P2P factor they are (PROTO-mfa 7.4.2 types to PROTO 7.2.1 proofs). */
export function asProof(answer: MfaCredentials): AuthProof {
  switch (answer.method) {
    case 'transaction_pin':
      return { method: 'pin', proof: { hashed_pin: pinDigest(answer.credentials.pin) } };
    case 'totp':
      return { method: 'otp', proof: { otp_code: answer.credentials.code } };
    case 'biometric':
      return { method: 'biometric', proof: { signature: answer.credentials.attestation, device_id: answer.credentials.device_id, timestamp: answer.credentials.timestamp } };
  }
}

