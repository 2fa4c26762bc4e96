import type { Currency } from './money';
import type { SealedProof } from './p2p';

/**
 * Mini-app payments (PROTO 7.3, PROTO-mfa 7.4) as the `payment-<id>` workflow, the API and the
 * activities share them. Amounts are minor units as strings (JSON has no bigint).
 */
export const PAYMENT_STATES = ['pending_authorization', 'mfa_required', 'processing', 'completed', 'failed', 'expired', 'cancelled', 'partially_refunded', 'refunded'] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];
/** Where the payment workflow ends (refunds come later, outside it). */
export const PAYMENT_TERMINAL_STATES: readonly PaymentState[] = ['completed', 'failed', 'expired', 'cancelled'];

/** Before it is authorized (the second factor not yet answered either) nothing has moved: its payer or merchant may cancel it. */
export const PAYMENT_CANCELLABLE_STATES: readonly PaymentState[] = ['pending_authorization', 'mfa_required'];

/** POST .../cancel: who cancels (the payer through the app or their messenger, or the merchant's backend), and why. */
export interface CancelRequest {
  by: 'payer' | 'merchant';
  /** The payer's user id, or the merchant's client id. */
  id: string;
  reason?: string;
}

/** PROTO-mfa 7.4.2 method types, and the P2P factor each one is. */
export const MFA_METHODS = { transaction_pin: 'pin', totp: 'otp', biometric: 'biometric' } as const;
export type MfaMethod = keyof typeof MFA_METHODS;

export interface PaymentInput {
  paymentId: string;
  payer: { userId: string; walletId: string };
  clientId: string;
  merchantName: string;
  amountMinor: string;
  currency: Currency;
  description: string;
  roomId?: string;
  /** What is left of the authorization window when the workflow starts (0: over). */
  authorizationWindowMs: number;
  mfaChallengeMs: number;
  mfaMaxAttempts: number;
  eventWaitMs: number;
}

/** POST .../authorize: the payer's device signature over authorizationMessage(). */
export interface AuthorizeRequest {
  userId: string;
  signature: string;
  deviceId: string;
  timestamp: string;
}

export interface MfaChallenge {
  challengeId: string;
  methods: MfaMethod[];
  expiresAt: string;
  maxAttempts: number;
  attempts: number;
}

/** POST .../mfa/verify: the credentials, sealed for the payment (they are a PIN or a one-time code). */
export interface MfaVerifyRequest {
  userId: string;
  challengeId: string;
  method: MfaMethod;
  proof: SealedProof;
}

export interface PaymentSnapshot {
  paymentId: string;
  status: PaymentState;
  challenge?: MfaChallenge;
  txnId?: string;
  completedAt?: string;
  failureCode?: string;
  eventId?: string;
  /** The room's m.tween.payment.request event (v3), which the outcome's event refers to. */
  requestEventId?: string;
}

/** `${payment_id}:${amount}:${currency}:${timestamp}`: what the payer's device signs (PROTO 7.3.2). */
export function authorizationMessage(paymentId: string, amount: string, currency: string, timestamp: string): string {
  return `${paymentId}:${amount}:${currency}:${timestamp}`;
}

/** `${payment_id}:${challenge_id}:${timestamp}`: a biometric answer to an MFA challenge (PROTO-mfa 7.4.4). */
export function mfaAttestationMessage(paymentId: string, challengeId: string, timestamp: string): string {
  return `${paymentId}:${challengeId}:${timestamp}`;
}

export const paymentWorkflowId = (paymentId: string) => `payment-${paymentId}`;

export const MFA_METHOD_NAMES: Record<MfaMethod, string> = {
  transaction_pin: 'Transaction PIN',
  totp: 'Authenticator Code',
  biometric: 'Biometric Authentication',
};
