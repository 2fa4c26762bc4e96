import type { UpdateDefinition } from '@temporalio/common';
import { actsThrough, type Caller } from '../auth/caller';
import type { Config } from '../config';
import { createKeyedDigest, type Sealer } from '../crypto/sealing';
import { miniappRecord, type OAuthClient } from '../db/miniapps';
import { countPaymentFailedCall, insertPayment, overduePayments, paymentById, paymentByKey, type Payment } from '../db/payments';
import type { DatabasePool } from '../db/pool';
import { DomainError, invalidField } from '../domain/errors';
import { amountToJson, parseAmount, type Currency } from '../domain/money';
import { paymentWorkflowId, type CancelRequest, type MfaMethod, type PaymentInput, type PaymentSnapshot } from '../domain/payments';
import { clientAttribute, TMCP_ROOM_ID, TMCP_STATUS, TMCP_USER_IDS } from '../domain/searchAttributes';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { Rooms } from '../matrix/rooms';
import { startIdempotently, type StartOptions, type Temporal } from '../temporal/client';
import { keyedUpdateId, updateSaga } from '../temporal/sagaCalls';
import { replayStored, requestHash } from '../idempotency';
import { checkSendLimits } from '../ledger/limits';
import { proofSealer, sealProof } from '../factors/proofs';
import { ownWallet } from '../wallet/wallets';
import { asProof, outcome, paymentView, type MfaCredentials } from './views';

import { authorizePayment, cancelPayment, issueMfaChallenge, verifyMfa } from '../../workflows/paymentMessages';
import type { paymentSaga } from '../../workflows/payment';

export interface PaymentDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  config: Pick<Config, 'payments' | 'p2p' | 'sagaAnswerTimeoutMs'>;
  log: Logger;
  rooms: Rooms;
  /** Seals MFA credentials before they enter the workflow's history. */
  proofSealer: Sealer;
  /** Names each Update after its caller and input without revealing the input. */
  updateIds: (text: string) => string;
}

/** What starting a payment's workflow needs (the API's requests, and its sweeper). */
type PaymentStartDeps = Pick<PaymentDeps, 'pool' | 'temporal' | 'log' | 'config' | 'clock'>;

/** The API's payment secrets, both from DATA_ENCRYPTION_KEY. */
export function paymentSecrets(dataKey: Buffer): Pick<PaymentDeps, 'proofSealer' | 'updateIds'> {
  return { proofSealer: proofSealer(dataKey), updateIds: createKeyedDigest(dataKey, 'payment-update-id') };
}

export interface PaymentItem {
  item_id: string;
  name: string;
  quantity: number;
  unit_price: number | string;
}

export interface PaymentRequest {
  amount: bigint;
  currency: Currency;
  description: string;
  merchantOrderId?: string;
  items?: PaymentItem[];
  callbackUrl?: string;
  roomId?: string;
  idempotencyKey: string;
}

const hashOf = (r: PaymentRequest) =>
  requestHash([r.amount.toString(), r.currency, r.description, r.merchantOrderId ?? null, r.items ?? null, r.callbackUrl ?? null, r.roomId ?? null]);

/** Items, when given, add up to the amount exactly (minor units: quantity times unit price). */
function checkItems(items: PaymentItem[], amount: bigint, currency: Currency): Record<string, unknown>[] {
  let total = 0n;
  const stored = items.map((item, i) => {
    const unit = parseAmount(item.unit_price, currency, `items[${i}].unit_price`);
    total += unit * BigInt(item.quantity);
    return { item_id: item.item_id, name: item.name, quantity: item.quantity, unit_price: amountToJson(unit, currency) };
  });
  if (total !== amount) {
    throw invalidField('items', `must add up to amount: they total ${amountToJson(total, currency)}, amount is ${amountToJson(amount, currency)}`);
  }
  return stored;
}

/** A callback_url must be on the host of the app's registered webhook URL (no delivering to anywhere else). */
function checkCallbackUrl(callbackUrl: string, webhookUrl: string | null): void {
  if (!webhookUrl) throw invalidField('callback_url', 'needs a webhook URL registered for this mini-app');
  const callback = new URL(callbackUrl);
  const registered = new URL(webhookUrl);
  if (callback.protocol !== registered.protocol || callback.host !== registered.host) {
    throw invalidField('callback_url', `must be on ${registered.protocol}//${registered.host}, the host of the registered webhook URL`);
  }
}

function sagaInput(deps: Pick<PaymentDeps, 'config'>, p: Payment, merchantName: string, now: Date): PaymentInput {
  return {
    paymentId: p.id,
    payer: { userId: p.payer_user_id, walletId: p.payer_wallet_id },
    clientId: p.client_id,
    merchantName,
    amountMinor: p.amount.toString(),
    currency: p.currency,
    description: p.description,
    ...(p.room_id ? { roomId: p.room_id } : {}),
    // From now: a workflow started late (by authorize or the sweeper) still ends at the expires_at the request answered.
    authorizationWindowMs: Math.max(0, p.expires_at.getTime() - now.getTime()),
    mfaChallengeMs: deps.config.payments.mfaChallengeMs,
    mfaMaxAttempts: deps.config.payments.mfaMaxAttempts,
    eventWaitMs: deps.config.p2p.eventWaitMs,
  };
}

/** The payment workflow's start: idempotent by workflow id (a running one is used, a finished one never started again). */
function sagaStart(deps: Pick<PaymentDeps, 'config' | 'clock'>, p: Payment, merchantName: string): StartOptions<typeof paymentSaga> {
  return {
    workflowId: paymentWorkflowId(p.id),
    args: [sagaInput(deps, p, merchantName, deps.clock.now())],
    staticSummary: `Payment ${p.id}: ${p.payer_user_id} → ${p.client_id}, ${amountToJson(p.amount, p.currency)} ${p.currency}`,
    typedSearchAttributes: [
      { key: TMCP_STATUS, value: p.status },
      { key: TMCP_USER_IDS, value: [p.payer_user_id] },
      ...(p.room_id ? [{ key: TMCP_ROOM_ID, value: p.room_id }] : []),
      ...clientAttribute(p.client_id),
    ],
  };
}

async function merchantName(deps: Pick<PaymentDeps, 'pool'>, clientId: string): Promise<string> {
  return (await miniappRecord(deps.pool, clientId))?.name ?? clientId;
}

/** Starts the workflow; a failure is logged and left to authorize (Update-with-Start) or the sweeper. */
async function startSaga(deps: PaymentStartDeps, p: Payment, knownName?: string): Promise<void> {
  const name = knownName ?? (await merchantName(deps, p.client_id));
  await startIdempotently<typeof paymentSaga>(deps.temporal, deps.log, 'paymentSaga', sagaStart(deps, p, name), { payment_id: p.id });
}

/** PROTO 7.3.1: the mini-app asks its user to pay it. Idempotent per app, payer and idempotency_key. */
export async function requestPayment(deps: PaymentDeps, caller: { userId: string; clientId: string }, req: PaymentRequest) {
  const hash = hashOf(req);
  const existing = await paymentByKey(deps.pool, caller.clientId, caller.userId, req.idempotencyKey);
  if (existing) return replay(existing, hash);

  const app = await miniappRecord(deps.pool, caller.clientId);
  if (!app || app.status !== 'active') throw new DomainError('MINIAPP_NOT_FOUND', 'The mini-app is not an active registered app', { client_id: caller.clientId });
  const payer = await ownWallet(deps, caller.userId);
  if (payer.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_status: payer.status });
  if (req.currency !== payer.currency) {
    throw new DomainError('CURRENCY_MISMATCH', 'currency must be the currency of your wallet', { field: 'currency', currency: req.currency, wallet_currency: payer.currency });
  }
  const items = req.items ? checkItems(req.items, req.amount, req.currency) : undefined;
  if (req.callbackUrl !== undefined) checkCallbackUrl(req.callbackUrl, app.webhook_url);
  if (req.roomId !== undefined && !(await deps.rooms.joinedIn(req.roomId, [caller.userId])).has(caller.userId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You are not a joined member of room_id', { field: 'room_id', room_id: req.roomId });
  }
  await checkSendLimits(deps.pool, payer, req.amount);

  const id = deps.clock.newId('payment');
  const createdAt = deps.clock.now();
  const expiresAt = new Date(createdAt.getTime() + deps.config.payments.authorizationWindowMs);
  const response = {
    payment_id: id,
    status: 'pending_authorization',
    amount: amountToJson(req.amount, req.currency),
    currency: req.currency,
    description: req.description,
    ...(req.merchantOrderId !== undefined ? { merchant_order_id: req.merchantOrderId } : {}),
    merchant: { miniapp_id: app.client_id, name: app.name },
    authorization_required: true,
    expires_at: expiresAt.toISOString(),
    created_at: createdAt.toISOString(),
  };
  const { payment, created } = await insertPayment(deps.pool, {
    id,
    payerUserId: caller.userId,
    payerWalletId: payer.id,
    clientId: app.client_id,
    amount: req.amount,
    currency: req.currency,
    description: req.description,
    merchantOrderId: req.merchantOrderId,
    items,
    callbackUrl: req.callbackUrl,
    roomId: req.roomId,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    response,
    createdAt,
    expiresAt,
  });
  if (!created) return replay(payment, hash);
  await startSaga(deps, payment, app.name);
  deps.log.info({ payment_id: id, client_id: app.client_id }, 'payment requested');
  return { replayed: false, body: payment.request_response };
}

const replay = (existing: Payment, hash: string) => replayStored(existing.request_hash, hash, existing.request_response, 'payment', { payment_id: existing.id });

const notFound = (paymentId: string) => new DomainError('NOT_FOUND', 'Payment not found', { payment_id: paymentId });

/** The payment of `caller`: their own, through the mini-app that requested it (or their messenger); anyone else is told it does not exist. */
async function payerPayment(deps: Pick<PaymentDeps, 'pool'>, caller: Caller, paymentId: string): Promise<Payment> {
  const p = await paymentById(deps.pool, paymentId);
  if (!p || p.payer_user_id !== caller.userId || !actsThrough(caller, p.client_id)) throw notFound(paymentId);
  return p;
}

/** The payment, to its payer through its mini-app; anyone else is told it does not exist. */
export async function getPaymentForPayer(deps: Pick<PaymentDeps, 'pool'>, caller: Caller, paymentId: string) {
  return paymentView(await payerPayment(deps, caller, paymentId));
}

/** The payment, to the merchant's confidential backend (PROTO 9.1.2): the app itself or its `_backend` twin. */
export async function getPaymentForMerchant(deps: Pick<PaymentDeps, 'pool'>, client: OAuthClient, paymentId: string) {
  return paymentView(await merchantPayment(deps, client, paymentId));
}

/** The payment, to the merchant's confidential backend; any other client is told it does not exist. */
async function merchantPayment(deps: Pick<PaymentDeps, 'pool'>, client: OAuthClient, paymentId: string): Promise<Payment> {
  const p = await paymentById(deps.pool, paymentId);
  if (!p || (client.client_id !== p.client_id && client.backend_of !== p.client_id)) throw notFound(paymentId);
  return p;
}

/**
 * Sends one Update to the payment's workflow, for a caller already checked (`who`: the payer's user
 * id, or the merchant's client id); authorize and cancel may start it (the request's start failed).
 * A refusal is counted (the next call is a new Update); a finished workflow is answered from PostgreSQL.
 */
async function act<A>(
  deps: PaymentDeps,
  p: Payment,
  who: string,
  action: string,
  input: unknown,
  update: UpdateDefinition<PaymentSnapshot, [A]>,
  arg: A,
  startsSaga = false,
): Promise<{ payment: Payment; answer: PaymentSnapshot }> {
  const paymentId = p.id;
  const outcome = await updateSaga(deps, {
    workflowId: paymentWorkflowId(paymentId),
    update,
    arg,
    updateId: keyedUpdateId(deps.updateIds, action, [paymentId, who, action, input], p.failed_calls),
    // The merchant's name is read for the start alone.
    start: startsSaga ? async () => ({ workflowType: 'paymentSaga', options: sagaStart(deps, p, await merchantName(deps, p.client_id)) }) : undefined,
    fields: { payment_id: paymentId },
    unavailable: 'The payment could not be reached right now; retry the same request',
  });
  if ('answer' in outcome) return { payment: p, answer: outcome.answer };
  if ('refusal' in outcome) {
    await countPaymentFailedCall(deps.pool, paymentId, p.failed_calls);
    throw outcome.refusal;
  }
  const now = await paymentById(deps.pool, paymentId);
  throw new DomainError('INVALID_STATE', `The payment is ${now?.status ?? 'gone'}`, { payment_id: paymentId, status: now?.status });
}

/** PROTO 7.3.2: the payer's device signature; the payment completes, or a second factor is asked for. */
export async function authorize(deps: PaymentDeps, caller: Caller, paymentId: string, body: { signature: string; deviceId: string; timestamp: string }) {
  const request = { userId: caller.userId, signature: body.signature, deviceId: body.deviceId, timestamp: body.timestamp };
  const { payment, answer } = await act(deps, await payerPayment(deps, caller, paymentId), caller.userId, 'authorize', request, authorizePayment, request, true);
  return outcome(payment, answer);
}

/** PROTO-mfa 7.4.2: a new challenge for a payment waiting for its second factor (the last one expired, or another method). */
export async function newMfaChallenge(deps: PaymentDeps, caller: Caller, paymentId: string) {
  const { payment, answer } = await act(deps, await payerPayment(deps, caller, paymentId), caller.userId, 'challenge', deps.clock.now().getTime(), issueMfaChallenge, { userId: caller.userId });
  return outcome(payment, answer);
}

/** PROTO-mfa 7.4.3: one answer to the challenge. Success completes the payment. */
export async function verifyMfaAnswer(deps: PaymentDeps, caller: Caller, paymentId: string, challengeId: string, answer: MfaCredentials) {
  const proof = asProof(answer);
  const request = { userId: caller.userId, challengeId, method: answer.method as MfaMethod, proof: sealProof(deps.proofSealer, paymentId, proof) };
  const { payment, answer: snapshot } = await act(deps, await payerPayment(deps, caller, paymentId), caller.userId, 'mfa', [challengeId, proof], verifyMfa, request);
  return { payment_id: payment.id, challenge_id: challengeId, status: 'verified' as const, proceed_to_processing: true as const, payment: outcome(payment, snapshot) };
}

/**
 * Cancels a payment not yet authorized, for its payer (through the app or their messenger) or its
 * merchant's backend: nothing moved; the app's webhook hears `payment.cancelled`, the room
 * `m.tween.payment.cancelled`. Asking again answers the cancelled payment.
 */
export async function cancelPaymentFor(deps: PaymentDeps, canceller: { kind: 'payer'; caller: Caller } | { kind: 'merchant'; client: OAuthClient }, paymentId: string, reason?: string) {
  const p = canceller.kind === 'payer' ? await payerPayment(deps, canceller.caller, paymentId) : await merchantPayment(deps, canceller.client, paymentId);
  if (p.status === 'cancelled') return paymentView(p);
  const request: CancelRequest = canceller.kind === 'payer' ? { by: 'payer', id: p.payer_user_id } : { by: 'merchant', id: p.client_id };
  if (reason !== undefined) request.reason = reason;
  // Started by the cancel when its request's start failed: a payment is cancelled through its workflow only.
  await act(deps, p, request.id, 'cancel', reason ?? null, cancelPayment, request, true);
  const now = await paymentById(deps.pool, paymentId);
  return paymentView(now ?? p);
}

const SWEEP_BATCH = 100;

/** Payments whose window ended with no workflow to end them (its start failed): starting it now expires them at once. */
export async function sweepUnstartedPayments(deps: PaymentStartDeps, graceMs: number): Promise<number> {
  const overdue = await overduePayments(deps.pool, new Date(deps.clock.now().getTime() - graceMs), SWEEP_BATCH);
  for (const p of overdue) await startSaga(deps, p);
  return overdue.length;
}
