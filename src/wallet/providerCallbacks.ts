import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../crypto/canonicalJson';
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

/** Where a callback may carry its signature (PROTO 4.11.7: "from the Authorization header or signature field"). */
export interface CallbackSignature {
  /** `X-Wallet-Provider`: which provider; when absent, each trusted provider's secret is tried. */
  providerId?: string;
  /** `X-Webhook-Signature: sha256=<hex>` over the raw body. */
  header?: string;
  /** `Authorization: <scheme> <signature>` over the raw body. */
  authorization?: string;
  rawBody: string;
  /** The parsed body: its `signature` member signs the rest of it, in canonical JSON (RFC 8785). */
  body: unknown;
}

/** An HMAC-SHA256 as providers write it: hex (with or without `sha256=`) or base64. */
function macBytes(text: string): Buffer | undefined {
  const value = text.trim().replace(/^sha256=/i, '');
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return undefined;
}

/** Each (what was signed, the signature given) the callback offers. */
function signedParts(callback: CallbackSignature): { payload: string; mac: Buffer }[] {
  const parts: { payload: string; mac: Buffer | undefined }[] = [];
  if (callback.header) parts.push({ payload: callback.rawBody, mac: macBytes(callback.header) });
  if (callback.authorization) parts.push({ payload: callback.rawBody, mac: macBytes(callback.authorization.trim().split(/\s+/).pop() ?? '') });
  const body = callback.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { signature?: unknown }).signature === 'string') {
    const { signature, ...signed } = body as Record<string, unknown>;
    parts.push({ payload: canonicalJson(signed), mac: macBytes(signature as string) });
  }
  return parts.filter((p): p is { payload: string; mac: Buffer } => p.mac !== undefined);
}

/**
 * Step one of PROTO 4.11.7: the callback is signed by a provider this deployment trusts
 * (WALLET_PROVIDERS) and that is active: the HMAC-SHA256 under its webhook secret (or the previous
 * one during a rotation), compared in constant time, in the header, `Authorization` or the body's
 * `signature`. Anything else is the same 401. Answers the provider.
 */
export async function verifyProviderSignature(deps: ProviderCallbackDeps, callback: CallbackSignature): Promise<string> {
  const parts = signedParts(callback);
  const candidates = callback.providerId ? [callback.providerId] : deps.config.walletProviders;
  if (parts.length === 0) throw refused();
  for (const providerId of candidates) {
    if (!deps.config.walletProviders.includes(providerId)) continue;
    const secrets = await webhookSecretsOf(deps.pool, providerId);
    if (!secrets || secrets.status !== 'active' || !secrets.current) continue;
    const keys = [secrets.current, secrets.previous].filter((s): s is string => s !== null).map((sealed) => deps.webhookSealer.open(sealed, providerId));
    const signed = parts.some(({ payload, mac }) => keys.some((key) => timingSafeEqual(createHmac('sha256', key).update(payload).digest(), mac)));
    if (signed) return providerId;
  }
  throw refused();
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
