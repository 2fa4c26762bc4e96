import type { Caller } from '../auth/caller';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { createKeyedDigest, type Sealer } from '../crypto/sealing';
import type { Owner } from '../db/externalAccounts';
import type { DatabasePool } from '../db/pool';
import { insertWithdrawal, keepEarlyPaidReport, notePayoutPaid, recordPayoutRef, withdrawalById, withdrawalByProviderRef, withdrawalsOf, withdrawalsToReconcile, type Withdrawal } from '../db/withdrawals';
import { DomainError } from '../domain/errors';
import { amountToJson, type Currency } from '../domain/money';
import type { AuthProof } from '../domain/p2p';
import { clientAttribute, TMCP_STATUS, TMCP_USER_IDS } from '../domain/searchAttributes';
import { withdrawalWorkflowId, type WithdrawalInput } from '../domain/withdrawals';
import { currencyMismatch } from '../domain/wallets';
import { availableMethods } from '../factors/enrolment';
import { proofSealer, sealProof } from '../factors/proofs';
import { refuseOtherRequest, requestHash } from '../idempotency';
import { checkSendLimits } from '../ledger/limits';
import type { Logger } from '../logger';
import type { ProviderEvent } from '../providers/provider';
import type { ProviderRegistry } from '../providers/registry';
import type { Temporal } from '../temporal/client';
import { keyedUpdateId, sagaUnavailable, updateSaga, wakeSaga } from '../temporal/sagaCalls';
import { ownWallet } from '../wallet/wallets';
import { payoutReported, startWithdrawal } from '../../workflows/withdrawalMessages';
import { ownExternalAccount } from './externalAccounts';

export interface WithdrawalDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  config: Pick<Config, 'providers' | 'sagaAnswerTimeoutMs'>;
  log: Logger;
  providers: ProviderRegistry;
  proofSealer: Sealer;
  updateIds: (text: string) => string;
}

export function withdrawalSecrets(dataKey: Buffer): Pick<WithdrawalDeps, 'proofSealer' | 'updateIds'> {
  return { proofSealer: proofSealer(dataKey), updateIds: createKeyedDigest(dataKey, 'withdrawal-update-id') };
}

export interface WithdrawalRequest {
  externalAccountId: string;
  amount: bigint;
  currency: Currency;
  idempotencyKey: string;
  /** The user's payment proof; a merchant's backend has none (its client credentials authenticated it). */
  authProof?: AuthProof;
  /** The first-party client the user came through, if any (its proofs' failures count there). */
  via?: Caller;
}

const UNAVAILABLE = 'The withdrawal could not be reached right now; retry the same request';
const notFound = (id: string) => new DomainError('NOT_FOUND', 'Withdrawal not found', { withdrawal_id: id });

/** PROTO 6.6 GetWithdrawalStatus: the withdrawal as PostgreSQL has it. */
export function withdrawalView(w: Withdrawal) {
  return {
    withdrawal_id: w.id,
    status: w.status,
    amount: amountToJson(w.amount, w.currency),
    currency: w.currency,
    external_account_id: w.external_account_id,
    provider: w.provider,
    ...(w.status_reason ? { status_reason: w.status_reason } : {}),
    ...(w.hold_txn_id ? { txn_id: w.hold_txn_id } : {}),
    ...(w.refund_txn_id ? { refund_txn_id: w.refund_txn_id, refunded: true as const } : {}),
    created_at: w.created_at.toISOString(),
    deadline_at: w.deadline_at.toISOString(),
    ...(w.finished_at ? { finished_at: w.finished_at.toISOString() } : {}),
  };
}

/** The user's own checks before anything is stored: wallet, currency, limits, a factor to prove with. */
async function checkUserWithdrawal(deps: WithdrawalDeps, userId: string, req: WithdrawalRequest) {
  const wallet = await ownWallet(deps, userId);
  if (wallet.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_status: wallet.status });
  if (wallet.currency !== req.currency) throw currencyMismatch(wallet, req.currency);
  await checkSendLimits(deps.pool, wallet, req.amount, 'withdraw');
  if ((await availableMethods(deps.pool, userId)).length === 0) {
    throw new DomainError('MFA_REQUIRED', 'Set up a payment PIN, a device key or TOTP before withdrawing money', {
      setup: ['POST /api/v1/wallet/pin', 'POST /api/v1/wallet/devices/register', 'POST /api/v1/wallet/totp/enroll'],
    });
  }
  return wallet;
}

/**
 * PROTO 6.6 InitiateWithdrawal (a user's withdrawal, or a merchant's payout): the saga
 * `withdrawal-<id>` is started with the owner's request (Update-with-Start), which checks the
 * user's proof and holds the money; the answer comes once both are done, and the provider pays out
 * after. Idempotent per owner and idempotency_key: a repeat answers the same withdrawal.
 */
export async function requestWithdrawal(deps: WithdrawalDeps, owner: Owner, req: WithdrawalRequest) {
  const hash = requestHash([req.externalAccountId, req.amount.toString(), req.currency]);
  const account = await ownExternalAccount(deps, owner, req.externalAccountId);
  if (account.currency !== req.currency) {
    throw new DomainError('CURRENCY_MISMATCH', 'currency must be the currency of the external account', { field: 'currency', currency: req.currency, account_currency: account.currency });
  }
  if (owner.kind === 'user' && !req.authProof) throw new DomainError('MFA_REQUIRED', 'auth_proof is required to withdraw', { field: 'auth_proof' });
  const wallet = owner.kind === 'user' ? await checkUserWithdrawal(deps, owner.id, req) : undefined;
  const createdAt = deps.clock.now();
  const { withdrawal, created } = await insertWithdrawal(deps.pool, {
    id: deps.clock.newId('withdrawal'),
    owner,
    walletId: wallet?.id ?? null,
    clientId: owner.kind === 'merchant' ? owner.id : (req.via?.clientId ?? null),
    externalAccountId: account.id,
    provider: account.provider,
    amount: req.amount,
    currency: req.currency,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    createdAt,
    deadlineAt: new Date(createdAt.getTime() + deps.config.providers.withdrawalDeadlineMs),
  });
  if (!created) refuseOtherRequest(withdrawal.request_hash, hash, 'withdrawal', { withdrawal_id: withdrawal.id });
  // A repeat of a request refused at its start (the proof, the funds) is asked again: the same
  // proof is the same Update, which Temporal answers with the first refusal.
  const refusedAtStart = withdrawal.status === 'failed' && withdrawal.hold_txn_id === null;
  if (withdrawal.status !== 'pending' && !refusedAtStart) return { replayed: !created, body: withdrawalView(withdrawal) };
  return { replayed: !created, body: await start(deps, withdrawal, req.authProof) };
}

/** The start, with its saga: a repeat (same proof) is the same Update, which Temporal answers with the first outcome. */
async function start(deps: WithdrawalDeps, w: Withdrawal, authProof: AuthProof | undefined) {
  const input: WithdrawalInput = {
    withdrawalId: w.id,
    ownerKind: w.owner_kind,
    ownerId: w.owner_id,
    deadlineMs: Math.max(0, w.deadline_at.getTime() - deps.clock.now().getTime()),
    pollIntervalMs: deps.config.providers.pollIntervalMs,
  };
  const outcome = await updateSaga(deps, {
    workflowId: withdrawalWorkflowId(w.id),
    update: startWithdrawal,
    arg: { ownerId: w.owner_id, ...(authProof ? { proof: sealProof(deps.proofSealer, w.id, authProof) } : {}) },
    updateId: keyedUpdateId(deps.updateIds, 'start', [w.id, w.owner_id, authProof ?? null]),
    start: () => ({
      workflowType: 'withdrawalSaga',
      options: {
        workflowId: withdrawalWorkflowId(w.id),
        args: [input],
        staticSummary: `${w.owner_kind === 'user' ? 'Withdrawal' : 'Merchant payout'} ${w.id}: ${amountToJson(w.amount, w.currency)} ${w.currency} from ${w.owner_id} to ${w.external_account_id} via ${w.provider}`,
        typedSearchAttributes: [
          { key: TMCP_STATUS, value: 'pending' },
          { key: TMCP_USER_IDS, value: w.owner_kind === 'user' ? [w.owner_id] : [] },
          ...clientAttribute(w.client_id),
        ],
      },
    }),
    askFinished: true,
    fields: { withdrawal_id: w.id },
    unavailable: UNAVAILABLE,
  });
  const now = await withdrawalById(deps.pool, w.id);
  if (!now) throw sagaUnavailable(UNAVAILABLE, { withdrawal_id: w.id });
  // Refused (the proof, the funds, the limits): the caller learns why. Started meanwhile by an
  // earlier request (INVALID_STATE), or finished: what it did is in PostgreSQL.
  if ('refusal' in outcome && outcome.refusal.code !== 'INVALID_STATE') throw outcome.refusal;
  if (now.status === 'failed' && now.hold_txn_id === null) {
    throw new DomainError('INVALID_STATE', 'The withdrawal with this idempotency_key was refused; use a new key', { withdrawal_id: now.id, status: now.status, reason: now.status_reason });
  }
  return withdrawalView(now);
}

export async function getWithdrawal(deps: Pick<WithdrawalDeps, 'pool'>, owner: Owner, id: string) {
  const w = await withdrawalById(deps.pool, id);
  if (!w || w.owner_kind !== owner.kind || w.owner_id !== owner.id) throw notFound(id);
  return withdrawalView(w);
}

export async function listWithdrawals(deps: Pick<WithdrawalDeps, 'pool'>, owner: Owner, page: { limit: number; offset: number }) {
  const rows = await withdrawalsOf(deps.pool, owner, { limit: page.limit + 1, offset: page.offset });
  return { withdrawals: rows.slice(0, page.limit).map(withdrawalView), pagination: { limit: page.limit, offset: page.offset, has_more: rows.length > page.limit } };
}

/**
 * A provider's verified payout event: wakes the withdrawal's saga, which asks the provider. A
 * payout reported paid after its money went back (failed, or past the deadline) is never moved
 * again: it is marked for operators to reconcile (GET /api/v1/admin/reconciliation) and logged.
 */
export async function payoutEventReported(deps: Pick<WithdrawalDeps, 'pool' | 'temporal' | 'config' | 'log'>, provider: string, event: Extract<ProviderEvent, { kind: 'payout' }>) {
  if (event.reference) await adoptPayoutRef(deps, provider, { ...event, reference: event.reference });
  const note = () => notePayoutPaid(deps.pool, provider, event.providerRef);
  let { withdrawal: w, flagged } = event.status === 'paid' ? await note() : { withdrawal: await withdrawalByProviderRef(deps.pool, provider, event.providerRef), flagged: false };
  if (!w && event.status === 'paid') {
    // Perhaps ours before the saga recorded the reference: kept for it, then looked for once more.
    await keepEarlyPaidReport(deps.pool, provider, event.providerRef);
    ({ withdrawal: w, flagged } = await note());
  }
  if (!w) {
    deps.log.warn({ provider, provider_ref: event.providerRef }, 'provider callback for no payout of ours');
    return;
  }
  if (flagged) deps.log.error({ withdrawal_id: w.id, status: w.status, provider, provider_ref: event.providerRef }, 'provider reports a payout paid after its money went back; reconcile it');
  if (w.status !== 'processing') return;
  await wakeSaga(deps, withdrawalWorkflowId(w.id), payoutReported, { withdrawal_id: w.id });
}

/**
 * The payout's reference, from the callback, for a withdrawal that has none: its creation timed out
 * on our side yet the provider made it, perhaps after the deadline gave the money back. Without
 * this its "paid" would find no withdrawal, and a payout made with the money returned would go
 * unflagged. The reference we created it with names the withdrawal; the callback is signed.
 */
async function adoptPayoutRef(deps: Pick<WithdrawalDeps, 'pool' | 'log'>, provider: string, event: { providerRef: string; reference: string }) {
  const w = await withdrawalById(deps.pool, event.reference);
  if (!w || w.provider !== provider) return;
  if (w.provider_ref === null) await recordPayoutRef(deps.pool, w.id, event.providerRef);
  else if (w.provider_ref !== event.providerRef) {
    deps.log.error({ withdrawal_id: w.id, provider, provider_ref: w.provider_ref, other_ref: event.providerRef }, 'the provider reports a second payout for one withdrawal; reconcile it');
  }
}

/** For operators: withdrawals the provider paid after their money went back, to settle by hand with the owner. */
export async function withdrawalsForReconciliation(deps: Pick<WithdrawalDeps, 'pool'>) {
  const rows = await withdrawalsToReconcile(deps.pool);
  return { withdrawals: rows.map((w) => ({ ...withdrawalView(w), owner_kind: w.owner_kind, owner_id: w.owner_id, provider_ref: w.provider_ref, reconcile: w.reconcile })) };
}
