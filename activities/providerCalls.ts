import { ApplicationFailure } from '@temporalio/activity';
import { ProviderUnavailable, type WalletProvider } from '../src/providers/provider';
import type { ProviderRegistry } from '../src/providers/registry';

/**
 * One call, from an activity, to the wallet provider an operation recorded. A provider not
 * configured here, or a refusal the provider would repeat, fails the step for good
 * (PAYMENT_FAILED); a provider that could not answer is thrown as is, so the activity is retried
 * (with the operation's idempotency key).
 */
export async function callProvider<T>(providers: ProviderRegistry | undefined, name: string, call: (provider: WalletProvider) => Promise<T>): Promise<T> {
  const provider = providers?.byName(name);
  if (!provider) throw ApplicationFailure.create({ type: 'PAYMENT_FAILED', message: `the provider ${name} is not configured`, nonRetryable: true });
  try {
    return await call(provider);
  } catch (err) {
    if (err instanceof ProviderUnavailable) throw err;
    throw ApplicationFailure.create({ type: 'PAYMENT_FAILED', message: `the provider refused: ${err instanceof Error ? err.message : String(err)}`, nonRetryable: true });
  }
}
