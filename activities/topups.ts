import { ApplicationFailure } from '@temporalio/activity';
import type { DatabasePool } from '../src/db/pool';
import { finishTopUp, recordCheckout, topUpById, type TopUp } from '../src/db/topups';
import type { TopUpCheckout } from '../src/domain/topups';
import { postTopUp } from '../src/ledger/topups';
import type { Logger } from '../src/logger';
import type { TopUpStatus } from '../src/providers/provider';
import { callProvider } from './providerCalls';
import type { ProviderRegistry } from '../src/providers/registry';

export interface TopUpActivityDeps {
  pool: DatabasePool;
  log: Logger;
  /** Undefined in a worker without providers: a top-up then fails at once. */
  providers: ProviderRegistry | undefined;
}

export function topUpActivities(deps: TopUpActivityDeps) {
  async function topUpOf(topUpId: string): Promise<TopUp> {
    const t = await topUpById(deps.pool, topUpId);
    if (!t) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: `no top-up ${topUpId}`, nonRetryable: true });
    return t;
  }

  return {
    /** The provider's checkout, created once per top-up (its id is the idempotency key) and recorded. */
    async createProviderTopUp(req: { topUpId: string }): Promise<TopUpCheckout> {
      const t = await topUpOf(req.topUpId);
      const made = await callProvider(deps.providers, t.provider, (p) => p.createTopUp({ idempotencyKey: `topup:${t.id}`, amountMinor: t.amount, currency: t.currency, reference: t.id }));
      const checkout = { providerRef: made.providerRef, ...(made.checkoutUrl ? { checkoutUrl: made.checkoutUrl } : {}), ...(made.clientSecret ? { clientSecret: made.clientSecret } : {}) };
      await recordCheckout(deps.pool, t.id, checkout);
      return checkout;
    },
    /**
     * What the provider says of the top-up now. A payment of another amount or currency than ours is
     * not ours to credit: it fails the top-up, and the log line is for operators.
     */
    async readProviderTopUp(req: { topUpId: string }): Promise<TopUpStatus> {
      const t = await topUpOf(req.topUpId);
      if (!t.provider_ref) return 'pending';
      const read = await callProvider(deps.providers, t.provider, (p) => p.readTopUp(t.provider_ref!));
      if (read.status === 'succeeded' && (read.amountMinor !== t.amount || read.currency !== t.currency)) {
        deps.log.error({ topup_id: t.id, provider: t.provider, provider_ref: t.provider_ref, paid: `${read.amountMinor} ${read.currency}` }, 'the provider reports another amount than the top-up; not credited');
        return 'failed';
      }
      return read.status;
    },
    async creditTopUp(req: { topUpId: string }): Promise<{ txnId: string }> {
      const t = await postTopUp(deps.pool, req.topUpId);
      return { txnId: t.txn_id! };
    },
    async closeTopUp(req: { topUpId: string; status: 'failed' | 'expired'; reason: string }): Promise<void> {
      await finishTopUp(deps.pool, req.topUpId, { status: req.status, reason: req.reason });
    },
  };
}
