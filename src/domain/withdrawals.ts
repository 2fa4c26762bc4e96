import type { SealedProof } from './p2p';

/** Withdrawals and merchant payouts (money out through a wallet provider): shapes shared by the API, the saga and its activities. */
export const withdrawalWorkflowId = (withdrawalId: string) => `withdrawal-${withdrawalId}`;

/** Whose money leaves: a user's wallet, or a mini-app's merchant account. */
export type WithdrawalOwnerKind = 'user' | 'merchant';

export const WITHDRAWAL_STATES = ['pending', 'processing', 'completed', 'failed', 'expired'] as const;
export type WithdrawalState = (typeof WITHDRAWAL_STATES)[number];

export interface WithdrawalInput {
  withdrawalId: string;
  ownerKind: WithdrawalOwnerKind;
  ownerId: string;
  /** How long the provider has to confirm the payout, from the saga's start; then the money goes back. */
  deadlineMs: number;
  /** How often the saga asks the provider when no callback came. */
  pollIntervalMs: number;
}

/** The request that starts the withdrawal (Update-with-Start): who asks, and the user's sealed proof (none for a merchant's backend). */
export interface StartWithdrawal {
  ownerId: string;
  proof?: SealedProof;
}

export interface WithdrawalSnapshot {
  withdrawalId: string;
  status: WithdrawalState;
  providerRef?: string;
  reason?: string;
}

/**
 * What the user's device signs for a biometric proof of a withdrawal: one field per line,
 * `withdrawal:v1`, the external account, amount, currency, idempotency key, timestamp. A signature
 * for one destination and amount pays out nothing else, and no second withdrawal under another key.
 */
export function withdrawalProofMessage(terms: { externalAccountId: string; amount: string; currency: string; idempotencyKey: string }, timestamp: string): string {
  return ['withdrawal:v1', terms.externalAccountId, terms.amount, terms.currency, terms.idempotencyKey, timestamp].join('\n');
}
