import { actsThrough, type Caller } from '../auth/caller';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { DatabasePool } from '../db/pool';
import { firstSightOfEvent, insertTopUp, topUpById, topUpByProviderRef, type TopUp } from '../db/topups';
import { DomainError } from '../domain/errors';
import { amountToJson, type Currency } from '../domain/money';
import { clientAttribute, TMCP_STATUS, TMCP_USER_IDS } from '../domain/searchAttributes';
import { topUpWorkflowId, type TopUpCheckout, type TopUpInput } from '../domain/topups';
import { currencyMismatch } from '../domain/wallets';
import { keyTaken, refuseOtherRequest, requestHash } from '../idempotency';
import type { Logger } from '../logger';
import type { Rooms } from '../matrix/rooms';
import { ProviderCallbackRefused } from '../providers/provider';
import type { ProviderRegistry } from '../providers/registry';
import type { Temporal } from '../temporal/client';
import { updateSaga, wakeSaga } from '../temporal/sagaCalls';
import { ownWallet } from '../wallet/wallets';
import { payoutEventReported } from '../withdrawals/withdrawals';
import { providerReported, topUpCheckout } from '../../workflows/topupMessages';

export interface TopUpDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  config: Pick<Config, 'providers' | 'sagaAnswerTimeoutMs'>;
  log: Logger;
  providers: ProviderRegistry;
  rooms: Rooms;
}

export interface TopUpRequest {
  amount: bigint;
  currency: Currency;
  idempotencyKey: string;
  /** Where the user hears of the credit (a room they joined); none: their direct room with the payments bot. */
  roomId?: string;
}

const notFound = (topUpId: string) => new DomainError('NOT_FOUND', 'Top-up not found', { topup_id: topUpId });

/**
 * Who asks: the user, and the mini-app whose TEP they came with (none: the user's Matrix session,
 * their messenger). A top-up is the user's, through the app that made it or the messenger.
 */
export interface TopUpCaller {
  userId: string;
  via?: Caller;
}

const visibleTo = (t: TopUp, who: TopUpCaller) => t.user_id === who.userId && (!who.via || actsThrough(who.via, t.client_id));

/** The top-up as PostgreSQL has it, with where to pay while it waits. */
function topUpView(t: TopUp, checkout?: TopUpCheckout) {
  const checkoutUrl = checkout?.checkoutUrl ?? t.checkout_url;
  const clientSecret = checkout?.clientSecret ?? t.client_secret;
  return {
    topup_id: t.id,
    status: t.status,
    amount: amountToJson(t.amount, t.currency),
    currency: t.currency,
    provider: t.provider,
    ...(t.status === 'pending' && checkoutUrl ? { checkout_url: checkoutUrl } : {}),
    ...(t.status === 'pending' && clientSecret ? { client_secret: clientSecret } : {}),
    ...(t.txn_id ? { txn_id: t.txn_id } : {}),
    ...(t.room_id ? { room_id: t.room_id } : {}),
    ...(t.status_reason ? { status_reason: t.status_reason } : {}),
    created_at: t.created_at.toISOString(),
    expires_at: t.expires_at.toISOString(),
    ...(t.finished_at ? { finished_at: t.finished_at.toISOString() } : {}),
  };
}

/**
 * A top-up (PROTO 6.6 funding): the saga `topup-<id>` asks the provider for a checkout, and this
 * answers where to pay; the wallet is credited when the provider confirms (see workflows/topup.ts).
 * Idempotent per user and idempotency_key: a repeat answers the same top-up.
 */
export async function requestTopUp(deps: TopUpDeps, caller: TopUpCaller, req: TopUpRequest) {
  const hash = requestHash([req.amount.toString(), req.currency, ...(req.roomId !== undefined ? [req.roomId] : [])]);
  const wallet = await ownWallet(deps, caller.userId);
  if (req.roomId !== undefined && !(await deps.rooms.joinedIn(req.roomId, [caller.userId])).has(caller.userId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You are not a joined member of room_id', { field: 'room_id', room_id: req.roomId });
  }
  if (wallet.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_status: wallet.status });
  if (wallet.currency !== req.currency) throw currencyMismatch(wallet, req.currency);
  const createdAt = deps.clock.now();
  const { topUp, created } = await insertTopUp(deps.pool, {
    id: deps.clock.newId('topup'),
    userId: caller.userId,
    walletId: wallet.id,
    clientId: caller.via?.clientId ?? null,
    provider: deps.providers.forCurrency(req.currency).name,
    amount: req.amount,
    currency: req.currency,
    ...(req.roomId !== undefined ? { roomId: req.roomId } : {}),
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + deps.config.providers.topUpExpiresMs),
  });
  if (!created) {
    // Another app's key is taken, and its checkout is not this app's to see.
    if (!visibleTo(topUp, caller)) throw keyTaken('top-up', {});
    refuseOtherRequest(topUp.request_hash, hash, 'top-up', { topup_id: topUp.id });
  }
  return { replayed: !created, body: await withCheckout(deps, topUp) };
}

/** The top-up with its checkout: the saga is started with the question (Update-with-Start) and answers once the provider has made it. */
async function withCheckout(deps: TopUpDeps, t: TopUp) {
  if (t.status !== 'pending') return topUpView(t);
  const input: TopUpInput = {
    topUpId: t.id,
    userId: t.user_id,
    expiresInMs: Math.max(0, t.expires_at.getTime() - deps.clock.now().getTime()),
    pollIntervalMs: deps.config.providers.pollIntervalMs,
  };
  const outcome = await updateSaga(deps, {
    workflowId: topUpWorkflowId(t.id),
    update: topUpCheckout,
    arg: { userId: t.user_id },
    updateId: 'checkout',
    start: () => ({
      workflowType: 'topUpSaga',
      options: {
        workflowId: topUpWorkflowId(t.id),
        args: [input],
        staticSummary: `Top-up ${t.id}: ${amountToJson(t.amount, t.currency)} ${t.currency} into ${t.wallet_id} via ${t.provider}`,
        typedSearchAttributes: [
          { key: TMCP_STATUS, value: 'pending' },
          { key: TMCP_USER_IDS, value: [t.user_id] },
          ...clientAttribute(t.client_id),
        ],
      },
    }),
    askFinished: true,
    fields: { topup_id: t.id },
    unavailable: 'The top-up could not be started right now; retry the same request',
  });
  if ('refusal' in outcome) throw outcome.refusal;
  const now = (await topUpById(deps.pool, t.id))!;
  return topUpView(now, 'answer' in outcome ? outcome.answer : undefined);
}

export async function getTopUp(deps: Pick<TopUpDeps, 'pool'>, who: TopUpCaller, topUpId: string) {
  const t = await topUpById(deps.pool, topUpId);
  if (!t || !visibleTo(t, who)) throw notFound(topUpId);
  return topUpView(t);
}

/**
 * A provider's callback (`POST /api/v1/wallet/providers/:provider/callback`): verified over its
 * exact body, recognised when repeated, and passed to the top-up's or the payout's saga as a hint
 * to ask the provider now. It moves no money itself: the saga credits on what the provider answers.
 */
export async function acceptProviderCallback(deps: Pick<TopUpDeps, 'pool' | 'providers' | 'temporal' | 'config' | 'log'>, providerName: string, rawBody: string, headers: Record<string, string | undefined>) {
  const provider = deps.providers.byName(providerName);
  const refused = () => new DomainError('INVALID_SIGNATURE', 'The callback is not signed by a configured wallet provider');
  if (!provider) throw refused();
  let event;
  try {
    event = provider.verifyCallback(rawBody, headers);
  } catch (err) {
    if (err instanceof ProviderCallbackRefused) throw refused();
    throw err;
  }
  if (!(await firstSightOfEvent(deps.pool, provider.name, event.eventId))) return { received: true, duplicate: true };
  if (event.kind === 'payout') {
    await payoutEventReported(deps, provider.name, event);
    return { received: true };
  }
  if (event.kind !== 'topup') return { received: true };
  const t = await topUpByProviderRef(deps.pool, provider.name, event.providerRef);
  if (!t) {
    deps.log.warn({ provider: provider.name, provider_ref: event.providerRef }, 'provider callback for no top-up of ours');
    return { received: true };
  }
  if (t.status !== 'pending') {
    // The top-up ended (expired, or failed) and the provider now reports money taken: ours to give
    // back or credit by hand, never by this callback. Operators find it by this line.
    if (event.status === 'succeeded' && t.status !== 'succeeded') {
      deps.log.error({ topup_id: t.id, status: t.status, provider: provider.name, provider_ref: event.providerRef }, 'provider reports a payment for a top-up that already ended; reconcile it');
    }
    return { received: true };
  }
  await wakeSaga(deps, topUpWorkflowId(t.id), providerReported, { topup_id: t.id });
  return { received: true };
}
