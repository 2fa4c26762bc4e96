import type { Config } from '../config';
import { DomainError } from '../domain/errors';
import type { WalletProvider } from './provider';
import { simulatorProvider } from './simulator';
import { stripeProvider } from './stripe';

/** The configured providers, by name (callbacks and recorded operations name theirs), and the one top-ups use. */
export interface ProviderRegistry {
  topUp(): WalletProvider;
  byName(name: string): WalletProvider | undefined;
}

export function providerRegistry(settings: Config['providers']): ProviderRegistry {
  const providers = new Map<string, WalletProvider>();
  // The simulator only where it is the provider (never in production, which refuses it): its
  // development secret must not verify anything where real money moves.
  if (settings.topUp === 'simulator') providers.set('simulator', simulatorProvider(settings.simulator));
  if (settings.stripe) providers.set('stripe', stripeProvider(settings.stripe));
  return {
    topUp: () => {
      const provider = providers.get(settings.topUp);
      if (!provider) throw new DomainError('SERVICE_UNAVAILABLE', 'Top-ups are not offered by this server (TOPUP_PROVIDER is none)', { retry_after_seconds: 3600 });
      return provider;
    },
    byName: (name) => providers.get(name),
  };
}
