/** Top-ups (money in from a wallet provider): shapes shared by the API, the saga and its activities. */
export const topUpWorkflowId = (topUpId: string) => `topup-${topUpId}`;

export interface TopUpInput {
  topUpId: string;
  userId: string;
  /** How long the top-up waits to be paid, from the saga's start. */
  expiresInMs: number;
  /** How often the saga asks the provider when no callback came. */
  pollIntervalMs: number;
}

/** Where the user pays: the provider's reference, and its hosted page or client secret. */
export interface TopUpCheckout {
  providerRef: string;
  checkoutUrl?: string;
  clientSecret?: string;
}

export type TopUpOutcome = 'pending' | 'succeeded' | 'failed' | 'expired';

export interface TopUpSnapshot {
  topUpId: string;
  status: TopUpOutcome;
  checkout?: TopUpCheckout;
  txnId?: string;
}
