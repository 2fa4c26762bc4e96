import { ApplicationFailure } from '@temporalio/activity';
import type { Sealer } from '../src/crypto/sealing';
import { externalAccountById } from '../src/db/externalAccounts';
import { recordPayoutRef, withdrawalById, type Withdrawal } from '../src/db/withdrawals';
import { DomainError } from '../src/domain/errors';
import { MESSENGER_SCOPE } from '../src/domain/lockout';
import { formatAmount } from '../src/domain/money';
import type { SealedProof } from '../src/domain/p2p';
import { withdrawalProofMessage } from '../src/domain/withdrawals';
import { openProof, verifyPaymentProof, type ProofDeps } from '../src/factors/proofs';
import { endWithdrawal, postWithdrawalHold, postWithdrawalSettlement } from '../src/ledger/withdrawals';
import type { Logger } from '../src/logger';
import type { PayoutStatus } from '../src/providers/provider';
import { callProvider } from './providerCalls';
import type { ProviderRegistry } from '../src/providers/registry';
import { domainFailures } from './failures';

export interface WithdrawalActivityDeps extends ProofDeps {
  log: Logger;
  proofSealer: Sealer;
  providers: ProviderRegistry | undefined;
}

/** A withdrawal's side effects; each is safe to retry (fixed ledger keys, the provider's idempotency key, status guarded by the row lock). */
export function withdrawalActivities(deps: WithdrawalActivityDeps) {
  async function withdrawalOf(id: string): Promise<Withdrawal> {
    const w = await withdrawalById(deps.pool, id);
    if (!w) throw new DomainError('NOT_FOUND', 'Withdrawal not found', { withdrawal_id: id });
    return w;
  }

  return {
    /**
     * The user's payment proof (as for a P2P confirm, with its lockouts; a merchant's backend has
     * none, its client credentials authenticated it), then the money into the payout account.
     */
    holdWithdrawal(req: { withdrawalId: string; proof?: SealedProof }) {
      return domainFailures(async () => {
        const w = await withdrawalOf(req.withdrawalId);
        // Run again after the hold committed (a worker lost the task): the proof was accepted then.
        if (w.status !== 'pending') return;
        if (w.owner_kind === 'user') {
          if (!req.proof) throw new DomainError('MFA_REQUIRED', 'A withdrawal needs the payment proof of its owner', { withdrawal_id: w.id });
          const proof = openProof(deps.proofSealer, w.id, req.proof);
          const terms = { externalAccountId: w.external_account_id, amount: formatAmount(w.amount, w.currency), currency: w.currency, idempotencyKey: w.idempotency_key };
          await verifyPaymentProof(deps, {
            userId: w.owner_id,
            scope: w.client_id ?? MESSENGER_SCOPE,
            proof,
            signedMessage: (timestamp) => withdrawalProofMessage(terms, timestamp),
            attemptKey: `withdrawal:${w.id}`,
          });
        }
        await postWithdrawalHold(deps.pool, w.id);
      });
    },

    /** The provider's payout, created once per withdrawal (its id is the idempotency key) and recorded. */
    async createProviderPayout(req: { withdrawalId: string }): Promise<{ providerRef: string; status: PayoutStatus }> {
      const w = await withdrawalOf(req.withdrawalId);
      const account = await externalAccountById(deps.pool, w.external_account_id);
      if (!account) throw ApplicationFailure.create({ type: 'PAYMENT_FAILED', message: 'the external account is gone', nonRetryable: true });
      const made = await callProvider(deps.providers, w.provider, (p) =>
        p.createPayout({ idempotencyKey: `withdrawal:${w.id}`, amountMinor: w.amount, currency: w.currency, destination: account.provider_token, reference: w.id }),
      );
      await recordPayoutRef(deps.pool, w.id, made.providerRef);
      return { providerRef: made.providerRef, status: made.status };
    },

    /** What the provider says of the payout now; one of another amount or currency is not ours, and is reported. */
    async readProviderPayout(req: { withdrawalId: string }): Promise<PayoutStatus> {
      const w = await withdrawalOf(req.withdrawalId);
      if (!w.provider_ref) return 'pending';
      const read = await callProvider(deps.providers, w.provider, (p) => p.readPayout(w.provider_ref!));
      if (read.amountMinor !== w.amount || read.currency !== w.currency) {
        deps.log.error({ withdrawal_id: w.id, provider: w.provider, provider_ref: w.provider_ref, paid: `${read.amountMinor} ${read.currency}` }, 'the provider reports another amount than the withdrawal; reconcile it');
      }
      return read.status;
    },

    settleWithdrawal(req: { withdrawalId: string }) {
      return domainFailures(async () => {
        const w = await postWithdrawalSettlement(deps.pool, req.withdrawalId);
        return { txnId: w.settle_txn_id! };
      });
    },

    returnWithdrawal(req: { withdrawalId: string; status: 'failed' | 'expired'; reason: string }) {
      return domainFailures(async () => {
        const w = await endWithdrawal(deps.pool, req.withdrawalId, { status: req.status, reason: req.reason });
        if (w.reconcile) deps.log.error({ withdrawal_id: w.id, status: w.status, provider: w.provider, provider_ref: w.provider_ref }, w.reconcile);
        return { refunded: w.refund_txn_id !== null };
      });
    },
  };
}
