import type { Config } from '../config';
import { DomainError } from '../domain/errors';
import type { Currency } from '../domain/money';
import type { WalletProvider } from './provider';
import { simulatorProvider } from './simulator';
import { stripeProvider } from './stripe';

/** The configured providers, by name (callbacks and recorded operations name theirs), and the one each currency uses. */
export interface ProviderRegistry {
  /** The provider money in and out of this currency goes through (PROVIDER_BY_CURRENCY, else TOPUP_PROVIDER); 503 when none. */
  forCurrency(currency: Currency): WalletProvider;
  byName(name: string): WalletProvider | undefined;
}

export function providerRegistry(settings: Config['providers']): ProviderRegistry {
  const providers = new Map<string, WalletProvider>();
  const chosen = new Set([settings.topUp, ...Object.values(settings.byCurrency)]);
  // The simulator only where it is chosen (never in production, which refuses it): its
  // development secret must not verify anything where real money moves.
  if (chosen.has('simulator')) providers.set('simulator', simulatorProvider(settings.simulator));
  if (settings.stripe) providers.set('stripe', stripeProvider(settings.stripe));
  return {
    forCurrency: (currency) => {
      const name = settings.byCurrency[currency] ?? settings.topUp;
      const provider = providers.get(name);
      if (!provider) {
        throw new DomainError('SERVICE_UNAVAILABLE', `Money in and out of ${currency} is not offered by this server (no wallet provider configured)`, {
          currency,
          retry_after_seconds: 3600,
        });
      }
      return provider;
    },
    byName: (name) => providers.get(name),
  };
}
