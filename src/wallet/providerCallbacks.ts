import { createHmac, timingSafeEqual } from 'node:crypto';
import { TMCP_ROOM_ID, clientAttribute } from '../domain/searchAttributes';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Config } from '../config';
import type { Sealer } from '../crypto/sealing';
import { miniappRecord, webhookSecretsOf } from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import { claimWalletCallback, unsentWalletCallbacks, walletCallbackById } from '../db/walletCallbacks';
import { DomainError } from '../domain/errors';
import { formatAmount, type Currency } from '../domain/money';
import type { Logger } from '../logger';
import type { Temporal } from '../temporal/client';
import type { walletCallbackEvent } from '../../workflows/walletCallbackEvent';

export interface ProviderCallbackDeps {
  pool: DatabasePool;
  temporal: Temporal;
  log: Logger;
  config: Pick<Config, 'walletProviders' | 'p2p'>;
  webhookSealer: Sealer;
}

/** PROTO 4.11.7's wallet event types and the room event each becomes. */
export const WALLET_EVENT_TYPES = {
  'payment.completed': 'm.tween.payment.completed',
  'payment.failed': 'm.tween.payment.failed',
  'payment.refunded': 'm.tween.payment.refunded',
} as const;

export interface WalletCallback {
  event: keyof typeof WALLET_EVENT_TYPES;
  transactionId: string;
  amount: bigint;
  currency: Currency;
  sender: { user_id: string; wallet_id?: string };
  recipient: { user_id?: string; wallet_id?: string; miniapp_id?: string; name?: string };
  roomId: string;
  note?: string;
  timestamp: string;
}

/** One workflow per provider and transaction (ids are the provider's; they may repeat across providers). */
export const walletEventWorkflowId = (provider: string, transactionId: string) => `wallet-event-${provider}-${transactionId}`;

const refused = () => new DomainError('INVALID_SIGNATURE', 'The callback is not signed by a trusted wallet provider');

/**
 * Step one of PROTO 4.11.7: the provider is one this deployment trusts (WALLET_PROVIDERS) and
 * active, and `sha256=<hex>` is the HMAC-SHA256 of the raw body under its webhook secret (or the
 * previous one during a rotation), compared in constant time. Anything else is the same 401.
 */
export async function verifyProviderSignature(deps: ProviderCallbackDeps, providerId: string | undefined, signature: string | undefined, rawBody: string): Promise<string> {
  if (!providerId || !signature || !deps.config.walletProviders.includes(providerId)) throw refused();
  const secrets = await webhookSecretsOf(deps.pool, providerId);
  if (!secrets || secrets.status !== 'active' || !secrets.current) throw refused();
  const given = Buffer.from(signature.replace(/^sha256=/, ''), 'utf8');
  const matches = [secrets.current, secrets.previous]
    .filter((s): s is string => s !== null)
    .map((sealed) => Buffer.from(createHmac('sha256', deps.webhookSealer.open(sealed, providerId)).update(rawBody).digest('hex')))
    .some((expected) => expected.length === given.length && timingSafeEqual(expected, given));
  if (!matches) throw refused();
  return providerId;
}

/** PROTO 4.11.7's event content (amount as a decimal string: canonical JSON has no floats). */
function content(c: WalletCallback, merchantName: string | undefined) {
  return {
    msgtype: 'm.tween.payment',
    body: `Payment ${c.event.split('.')[1]}: ${formatAmount(c.amount, c.currency)} ${c.currency}`,
    payment_type: c.event.split('.')[1],
    visual: { card_type: 'payment_receipt', icon: `payment_${c.event.split('.')[1]}` },
    transaction: { txn_id: c.transactionId, amount: formatAmount(c.amount, c.currency), currency: c.currency },
    sender: { user_id: c.sender.user_id },
    recipient: { ...c.recipient, ...(merchantName && c.recipient.miniapp_id ? { name: merchantName } : {}) },
    ...(c.note ? { note: c.note } : {}),
    timestamp: c.timestamp,
  };
}

/**
 * Steps three of PROTO 4.11.7 and 4.11.8: the room event of the reported payment, once per
 * transaction_id. A repeat answers the first event's id with `idempotent: true`. The event is sent
 * by a workflow (retried as room events are); the answer waits briefly for its id.
 */
export async function acceptWalletCallback(deps: ProviderCallbackDeps, providerId: string, c: WalletCallback) {
  const merchantName = c.recipient.miniapp_id ? (await miniappRecord(deps.pool, c.recipient.miniapp_id))?.name : undefined;
  const roomEvent = { type: WALLET_EVENT_TYPES[c.event], content: content(c, merchantName) };
  const claimed = await claimWalletCallback(deps.pool, { transactionId: c.transactionId, provider: providerId, event: c.event, roomId: c.roomId, roomEvent });
  if (!claimed) {
    const first = await walletCallbackById(deps.pool, providerId, c.transactionId);
    return { event_id: first?.event_id ?? null, idempotent: true, transaction_id: c.transactionId };
  }
  const eventId = await sendWalletEvent(deps, { provider: providerId, transactionId: c.transactionId, roomId: c.roomId, ...roomEvent }, deps.config.p2p.eventWaitMs);
  deps.log.info({ transaction_id: c.transactionId, provider: providerId, event: c.event }, 'wallet provider callback accepted');
  return { event_id: eventId ?? null, idempotent: false, transaction_id: c.transactionId };
}

/** Starts the room event's workflow (idempotent by transaction) and waits up to `waitMs` for the event id. */
async function sendWalletEvent(deps: Pick<ProviderCallbackDeps, 'temporal' | 'log'>, input: { provider: string; transactionId: string; roomId: string; type: string; content: Record<string, unknown> }, waitMs: number) {
  try {
    const handle = await deps.temporal.client.workflow.start<typeof walletCallbackEvent>('walletCallbackEvent', {
      taskQueue: deps.temporal.taskQueue,
      workflowId: walletEventWorkflowId(input.provider, input.transactionId),
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Room event of ${input.provider}'s payment ${input.transactionId} in ${input.roomId}`,
      typedSearchAttributes: [{ key: TMCP_ROOM_ID, value: input.roomId }, ...clientAttribute(input.provider)],
    });
    return await Promise.race([handle.result(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs).unref())]);
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) deps.log.warn({ err, transaction_id: input.transactionId }, 'wallet event not sent yet; the sweeper retries');
    return undefined;
  }
}

/** The sweeper's part: reported payments whose room event never started. */
export async function sweepUnsentWalletEvents(deps: Pick<ProviderCallbackDeps, 'pool' | 'temporal' | 'log'>, graceMs: number): Promise<number> {
  const pending = await unsentWalletCallbacks(deps.pool, new Date(Date.now() - graceMs), 100);
  for (const row of pending) await sendWalletEvent(deps, { provider: row.provider, transactionId: row.transaction_id, roomId: row.room_id, ...row.room_event }, 0);
  return pending.length;
}
