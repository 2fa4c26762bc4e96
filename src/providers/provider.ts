import { isCurrency, type Currency } from '../domain/money';

/**
 * A wallet provider: where money enters a wallet (a top-up the user pays at the provider) and
 * where it leaves (a payout to the user's external account). The sagas talk to providers only
 * through this interface; each implementation maps its provider's states onto these. Every call
 * that creates something carries the operation's idempotency key, so a call retried after a
 * timeout creates nothing twice at the provider.
 */
export interface WalletProvider {
  /** The name operations record, and callbacks are routed by. */
  readonly name: string;
  createTopUp(req: TopUpRequest): Promise<ProviderTopUp>;
  readTopUp(providerRef: string): Promise<ProviderTopUp>;
  createPayout(req: PayoutRequest): Promise<ProviderPayout>;
  readPayout(providerRef: string): Promise<ProviderPayout>;
  /** Keeps an external account at the provider (PROTO 6.5) from the token its client SDK made; we keep only what this answers. */
  linkAccount(req: LinkRequest): Promise<ProviderAccount>;
  /** Forgets a linked account at the provider (already forgotten is fine). */
  unlinkAccount(token: string): Promise<void>;
  /**
   * The event a provider's callback reports, when its signature verifies over the exact body;
   * throws ProviderCallbackRefused otherwise.
   */
  verifyCallback(rawBody: string, headers: Record<string, string | undefined>): ProviderEvent;
}

export interface TopUpRequest {
  idempotencyKey: string;
  amountMinor: bigint;
  currency: Currency;
  /** Our id of the operation (topup-...), kept with the provider's record. */
  reference: string;
}

export interface PayoutRequest {
  idempotencyKey: string;
  amountMinor: bigint;
  currency: Currency;
  /** The provider's token of the external account. */
  destination: string;
  reference: string;
}

export type ExternalAccountType = 'bank_account' | 'card';

export interface LinkRequest {
  idempotencyKey: string;
  type: ExternalAccountType;
  /** What the provider's client SDK made of the account details: we never see the account number. */
  token: string;
  currency: Currency;
}

/** A linked account as the provider keeps it: its token (a payout's destination) and a masked label for people. */
export interface ProviderAccount {
  token: string;
  type: ExternalAccountType;
  label: string;
}

export type TopUpStatus = 'pending' | 'succeeded' | 'failed';
export type PayoutStatus = 'pending' | 'paid' | 'failed';

export interface ProviderTopUp {
  providerRef: string;
  status: TopUpStatus;
  amountMinor: bigint;
  currency: Currency;
  /** Where the user pays (a hosted page), or what a client SDK confirms with. */
  checkoutUrl?: string;
  clientSecret?: string;
}

export interface ProviderPayout {
  providerRef: string;
  status: PayoutStatus;
  amountMinor: bigint;
  currency: Currency;
  failureReason?: string;
}

/**
 * What a verified callback says happened. `eventId` is the provider's, so a repeated callback is
 * recognised; a payout's `reference` is the one we created it with (the withdrawal's id), so a
 * payout whose creation timed out on our side is still found.
 */
export type ProviderEvent =
  | { eventId: string; kind: 'topup'; providerRef: string; status: TopUpStatus }
  | { eventId: string; kind: 'payout'; providerRef: string; status: PayoutStatus; reference?: string }
  | { eventId: string; kind: 'other'; type: string };

/** A request the provider refuses and would refuse again (a bad token, an unknown account): not retried. */
export class ProviderRefused extends Error {}

/** A callback whose signature does not verify (or that is not a callback at all). */
export class ProviderCallbackRefused extends Error {}

/** A provider that could not be reached or answered in a way worth retrying (the saga's activity retries it). */
export class ProviderUnavailable extends Error {}

/** A currency a provider answered (Stripe writes them in lower case), or ProviderUnavailable for one we do not keep. */
export function providerCurrency(provider: string, code: string): Currency {
  const upper = code.toUpperCase();
  if (!isCurrency(upper)) throw new ProviderUnavailable(`${provider} answered an unknown currency ${code}`);
  return upper;
}
