import { postEntryIn } from '../db/ledger';
import type { DatabasePool } from '../db/pool';
import { finishTopUp, topUpById, type TopUp } from '../db/topups';
import { DomainError } from '../domain/errors';

/**
 * Credits a top-up the provider confirmed: one journal entry from the provider's clearing account
 * to the wallet, and the top-up's status, in one transaction. Keyed by the top-up, so however many
 * times the provider confirms it (callbacks, polls, retries), the money moves once.
 */
export async function postTopUp(pool: DatabasePool, topUpId: string): Promise<TopUp> {
  return pool.transaction(async (tx) => {
    const t = await topUpById(tx, topUpId, true);
    if (!t) throw new DomainError('NOT_FOUND', 'Top-up not found', { topup_id: topUpId });
    if (t.status === 'succeeded') return t;
    if (t.status !== 'pending') throw new DomainError('INVALID_STATE', `The top-up is ${t.status}`, { topup_id: t.id, status: t.status });
    const posted = await postEntryIn(tx, {
      idempotencyKey: `topup:${t.id}`,
      kind: 'topup',
      reference: t.id,
      metadata: { provider: t.provider, provider_ref: t.provider_ref },
      postings: [
        { account: { kind: 'provider', provider: t.provider, currency: t.currency }, amount: -t.amount },
        { account: { kind: 'wallet', walletId: t.wallet_id, currency: t.currency }, amount: t.amount },
      ],
    });
    return finishTopUp(tx, t.id, { status: 'succeeded', txnId: posted.txnId });
  });
}
