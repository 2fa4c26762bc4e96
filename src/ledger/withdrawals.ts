import { postEntryIn } from '../db/ledger';
import type { DatabasePool, DatabaseTransactionConnection } from '../db/pool';
import { walletById } from '../db/wallets';
import { paidAfterGivenBack, setWithdrawalStatus, withdrawalById, type Withdrawal } from '../db/withdrawals';
import { DomainError } from '../domain/errors';
import type { AccountRef } from '../domain/ledger';
import { checkSendLimits } from './limits';

/**
 * A withdrawal's three possible entries, each keyed by the withdrawal and its step so a retried
 * step moves nothing twice: the money out of its source into the withdrawal's payout account (hold);
 * from there to the provider's clearing account once the provider paid (settle); or back to the
 * source when the payout failed or the deadline passed (refund). Settle and refund exclude each
 * other: both need the withdrawal `processing`, under its row lock.
 */

const payout = (w: Withdrawal): AccountRef => ({ kind: 'payout', withdrawalId: w.id, currency: w.currency });
const source = (w: Withdrawal): AccountRef =>
  w.owner_kind === 'user' ? { kind: 'wallet', walletId: w.wallet_id!, currency: w.currency } : { kind: 'merchant', clientId: w.owner_id, currency: w.currency };

/** The withdrawal, locked for the rest of the transaction: settle and refund exclude each other by it. */
async function lockedWithdrawal(tx: DatabaseTransactionConnection, id: string): Promise<Withdrawal> {
  const w = await withdrawalById(tx, id, true);
  if (!w) throw new DomainError('NOT_FOUND', 'Withdrawal not found', { withdrawal_id: id });
  return w;
}

/** Holds the money: source → payout account, with a wallet's status and limits checked under the account locks. */
export async function postWithdrawalHold(pool: DatabasePool, withdrawalId: string): Promise<Withdrawal> {
  return pool.transaction(async (tx) => {
    const w = await lockedWithdrawal(tx, withdrawalId);
    if (w.status !== 'pending') return w;
    const posted = await postEntryIn(
      tx,
      {
        idempotencyKey: `withdrawal:${w.id}:hold`,
        kind: 'withdrawal_hold',
        reference: w.id,
        metadata: { withdrawal_id: w.id, external_account_id: w.external_account_id, provider: w.provider },
        postings: [
          { account: source(w), amount: -w.amount },
          { account: payout(w), amount: w.amount },
        ],
      },
      {
        guard: async (locked) => {
          if (w.owner_kind !== 'user') return;
          const wallet = await walletById(locked, w.wallet_id!);
          if (!wallet || wallet.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_id: w.wallet_id });
          await checkSendLimits(locked, wallet, w.amount, 'withdraw');
        },
      },
    );
    return setWithdrawalStatus(tx, w.id, { status: 'processing', holdTxnId: posted.txnId });
  });
}

/** The provider paid: payout account → the provider's clearing account; the withdrawal is completed. */
export async function postWithdrawalSettlement(pool: DatabasePool, withdrawalId: string): Promise<Withdrawal> {
  return pool.transaction(async (tx) => {
    const w = await lockedWithdrawal(tx, withdrawalId);
    if (w.status === 'completed') return w;
    if (w.status !== 'processing') throw new DomainError('INVALID_STATE', `The withdrawal is ${w.status}`, { withdrawal_id: w.id, status: w.status });
    const posted = await postEntryIn(tx, {
      idempotencyKey: `withdrawal:${w.id}:settle`,
      kind: 'withdrawal_settle',
      reference: w.id,
      metadata: { withdrawal_id: w.id, provider: w.provider, provider_ref: w.provider_ref },
      postings: [
        { account: payout(w), amount: -w.amount },
        { account: { kind: 'provider', provider: w.provider, currency: w.currency }, amount: w.amount },
      ],
    });
    return setWithdrawalStatus(tx, w.id, { status: 'completed', settleTxnId: posted.txnId, finished: true });
  });
}

/**
 * Ends a withdrawal that will not be paid: money held goes back to its source (payout account →
 * source); one never held (a refused proof, funds or limits) only ends. An ended one stays as it ended.
 */
export async function endWithdrawal(pool: DatabasePool, withdrawalId: string, end: { status: 'failed' | 'expired'; reason: string }): Promise<Withdrawal> {
  return pool.transaction(async (tx) => {
    const w = await lockedWithdrawal(tx, withdrawalId);
    if (w.status === 'pending') return setWithdrawalStatus(tx, w.id, { status: 'failed', reason: end.reason, finished: true });
    if (w.status !== 'processing') return w;
    const posted = await postEntryIn(tx, {
      idempotencyKey: `withdrawal:${w.id}:refund`,
      kind: 'withdrawal_refund',
      reference: w.id,
      metadata: { withdrawal_id: w.id, reason: end.reason },
      postings: [
        { account: payout(w), amount: -w.amount },
        { account: source(w), amount: w.amount },
      ],
    });
    // The provider's callback said paid while this was deciding to give the money back: flagged, not moved again.
    const reconcile = w.provider_paid_at ? paidAfterGivenBack(end.status) : undefined;
    return setWithdrawalStatus(tx, w.id, { status: end.status, reason: end.reason, refundTxnId: posted.txnId, finished: true, ...(reconcile ? { reconcile } : {}) });
  });
}
