/** What a wallet can be: active, suspended by an operator, or closed. */
export const WALLET_STATUSES = ['active', 'suspended', 'closed'] as const;
export type WalletStatus = (typeof WALLET_STATUSES)[number];
