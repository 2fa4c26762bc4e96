import { DomainError } from './errors';
import type { Currency } from './money';

/** What a wallet can be: active, suspended by an operator, or closed. */
export const WALLET_STATUSES = ['active', 'suspended', 'closed'] as const;
export type WalletStatus = (typeof WALLET_STATUSES)[number];

/** A wallet receives only its own currency: money in any other would sit where its owner can neither spend nor withdraw it. */
export function currencyMismatch(wallet: { id: string; currency: Currency }, currency: Currency, field = 'currency'): DomainError {
  return new DomainError('CURRENCY_MISMATCH', `The wallet holds ${wallet.currency}; it cannot receive ${currency}`, {
    field,
    currency,
    wallet_currency: wallet.currency,
  });
}

/** Where the messenger lets someone without a wallet create one, invited by the sender (PROTO 6.3.9, 6.3.10). */
export const walletInviteUrl = (userId: string) => `tween://invite-wallet?user=${userId}`;
