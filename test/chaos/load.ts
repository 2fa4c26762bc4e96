import { sign, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { biometricMessage } from '../../src/domain/p2p';
import { giftProofMessage } from '../../src/domain/gifts';

/**
 * The chaos run's traffic: closed-loop clients doing random P2P transfers, payments (some asking a
 * second factor), refunds, gift drops and openings among a fixed set of wallets. Every call that
 * finds no API (connection refused or reset, a timeout) or answers 5xx is retried with the same
 * idempotency key until it answers or RETRY_FOR_MS has passed; what the answers say moved is booked
 * here, so the balances can be checked against it afterwards.
 */

export const ROOM_ID = '!chaos:tmcp.test';
const RETRY_FOR_MS = 120_000;
const CALL_TIMEOUT_MS = 30_000;
/** Payments from this amount ask for a second factor (PAYMENT_MFA_THRESHOLD's default, 50.00). */
const MFA_AMOUNT_MINOR = 6000;

export interface ChaosUser {
  userId: string;
  walletId: string;
  /** TEP of ma_demo (P2P, gifts, balances). */
  token: string;
  /** TEP of the paying shop. */
  shopToken: string;
  deviceId: string;
  key: KeyObject;
}

export interface Answer {
  status: number;
  body: any;
}

/** How the calls of the run went: retried ones, and ones that never got an answer. */
export interface CallStats {
  calls: number;
  retried: number;
  unanswered: number;
}

/** Calls one of the API processes; retries a call that got no answer, or a 5xx, on any of them. */
export class Caller {
  readonly stats: CallStats = { calls: 0, retried: 0, unanswered: 0 };

  constructor(private readonly urls: string[]) {}

  /** A retry sends the very same request (the same proof and timestamp), as a client does after a lost answer. */
  async call(method: string, path: string, options: { token?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer | undefined> {
    this.stats.calls += 1;
    const giveUp = Date.now() + RETRY_FOR_MS;
    for (let attempt = 0; ; attempt += 1) {
      const url = this.urls[Math.floor(Math.random() * this.urls.length)]!;
      try {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
        const text = await res.text();
        if (res.status < 500) return { status: res.status, body: text ? JSON.parse(text) : undefined };
      } catch {
        // no answer: the API process is gone, or the call timed out
      }
      if (attempt === 0) this.stats.retried += 1;
      if (Date.now() > giveUp) {
        this.stats.unanswered += 1;
        return undefined;
      }
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }
}

/** What the answers say happened, per kind of operation, and what each wallet should hold. */
export class Book {
  readonly expected = new Map<string, number>();
  readonly tried: Record<string, number> = {};
  readonly succeeded: Record<string, number> = {};
  readonly refused: Record<string, number> = {};
  readonly lost: string[] = [];
  readonly completedTransfers = new Set<string>();
  readonly otherTransfers = new Set<string>();
  readonly completedPayments = new Map<string, { payer: ChaosUser; amountMinor: number; refundedMinor: number }>();
  readonly otherPayments = new Set<string>();
  readonly gifts: { id: string; sender: string; openers: Set<string> }[] = [];

  constructor(users: ChaosUser[], fundMinor: number) {
    for (const u of users) this.expected.set(u.walletId, fundMinor);
  }

  move(walletId: string, minor: number): void {
    this.expected.set(walletId, this.expected.get(walletId)! + minor);
  }

  count(kind: string, outcome: 'tried' | 'succeeded' | 'refused'): void {
    this[outcome][kind] = (this[outcome][kind] ?? 0) + 1;
  }
}

const decimal = (minor: number) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
const minorOf = (amount: number | string) => Math.round(Number(amount) * 100);
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const signed = (key: KeyObject, message: string) => sign('sha256', Buffer.from(message), { key, dsaEncoding: 'ieee-p1363' }).toString('base64');

export interface Traffic {
  caller: Caller;
  book: Book;
  users: ChaosUser[];
  shop: { backendAuth: string };
  pin: string;
  runId: string;
}

let sequence = 0;
const keyFor = (t: Traffic, kind: string) => `chaos-${t.runId}-${kind}-${(sequence += 1)}`;

/** An answer the run did not expect (a 4xx nobody should get): kept as a sample for the report. */
function refused(t: Traffic, kind: string, step: string, answer: Answer | undefined): void {
  if (!answer) {
    t.book.lost.push(`${kind}: ${step} never answered`);
    return;
  }
  t.book.count(kind, 'refused');
  if ((t.book.refused[kind] ?? 0) <= 3) t.book.lost.push(`${kind}: ${step} answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
}

async function p2p(t: Traffic): Promise<void> {
  const sender = pick(t.users);
  const recipient = pick(t.users.filter((u) => u !== sender));
  const amountMinor = 1 + Math.floor(Math.random() * 100);
  const amount = decimal(amountMinor);
  t.book.count('p2p', 'tried');
  const key = keyFor(t, 'p2p');
  const started = await t.caller.call('POST', '/api/v1/wallet/p2p/initiate', {
    token: sender.token,
    body: ({ recipient: recipient.userId, amount, currency: 'USD', idempotency_key: key, room_id: ROOM_ID }),
  });
  if (started?.status !== 201) return refused(t, 'p2p', 'initiate', started);
  const transferId = started.body.transfer_id as string;
  const timestamp = new Date().toISOString();
  const proof = { signature: signed(sender.key, biometricMessage(transferId, amount, 'USD', timestamp)), device_id: sender.deviceId, timestamp };
  const confirm = await t.caller.call('POST', `/api/v1/wallet/p2p/${transferId}/confirm`, { token: sender.token, body: { auth_proof: { method: 'biometric', proof } } });
  if (confirm?.status === 200 && confirm.body.status === 'completed') {
    t.book.completedTransfers.add(transferId);
    t.book.move(sender.walletId, -amountMinor);
    t.book.move(recipient.walletId, amountMinor);
    t.book.count('p2p', 'succeeded');
    return;
  }
  t.book.otherTransfers.add(transferId);
  refused(t, 'p2p', 'confirm', confirm);
}

async function payment(t: Traffic): Promise<void> {
  const payer = pick(t.users);
  const withFactor = Math.random() < 0.2;
  const amountMinor = withFactor ? MFA_AMOUNT_MINOR : 50 + Math.floor(Math.random() * 450);
  const amount = decimal(amountMinor);
  const kind = withFactor ? 'payment with PIN' : 'payment';
  t.book.count(kind, 'tried');
  const key = keyFor(t, 'pay');
  const asked = await t.caller.call('POST', '/api/v1/payments/request', {
    token: payer.shopToken,
    body: ({ amount, currency: 'USD', description: 'chaos', idempotency_key: key, room_id: ROOM_ID }),
  });
  if (asked?.status !== 201) return refused(t, kind, 'request', asked);
  const paymentId = asked.body.payment_id as string;
  const timestamp = new Date().toISOString();
  let answer = await t.caller.call('POST', `/api/v1/payments/${paymentId}/authorize`, {
    token: payer.shopToken,
    body: { signature: signed(payer.key, `${paymentId}:${amount}:USD:${timestamp}`), device_id: payer.deviceId, timestamp },
  });
  if (answer?.status === 200 && answer.body.status === 'mfa_required') {
    const challengeId = answer.body.mfa_challenge.challenge_id as string;
    const verified = await t.caller.call('POST', `/api/v1/payments/${paymentId}/mfa/verify`, {
      token: payer.shopToken,
      body: ({ challenge_id: challengeId, method: 'transaction_pin', credentials: { pin: t.pin } }),
    });
    answer = verified?.status === 200 ? { status: 200, body: verified.body.payment } : verified;
  }
  if (answer?.status === 200 && answer.body.status === 'completed') {
    t.book.completedPayments.set(paymentId, { payer, amountMinor, refundedMinor: 0 });
    t.book.move(payer.walletId, -amountMinor);
    t.book.count(kind, 'succeeded');
    return;
  }
  t.book.otherPayments.add(paymentId);
  refused(t, kind, 'authorize', answer);
}

async function refund(t: Traffic): Promise<void> {
  const open = [...t.book.completedPayments.entries()].filter(([, p]) => p.refundedMinor < p.amountMinor);
  if (open.length === 0) return payment(t);
  const [paymentId, paid] = pick(open);
  const amountMinor = Math.max(1, Math.floor((paid.amountMinor - paid.refundedMinor) / 2));
  paid.refundedMinor += amountMinor; // reserved now, so no other client refunds the same cents
  t.book.count('refund', 'tried');
  const key = keyFor(t, 'refund');
  const answer = await t.caller.call('POST', `/api/v1/payments/${paymentId}/refund`, {
    headers: { authorization: t.shop.backendAuth },
    body: ({ amount: decimal(amountMinor), reason: 'chaos', idempotency_key: key }),
  });
  if ((answer?.status === 200 || answer?.status === 201) && answer.body.refund_id) {
    t.book.move(paid.payer.walletId, amountMinor);
    t.book.count('refund', 'succeeded');
    return;
  }
  paid.refundedMinor -= amountMinor;
  refused(t, 'refund', 'refund', answer);
}

async function drop(t: Traffic): Promise<void> {
  const sender = pick(t.users);
  const count = 1 + Math.floor(Math.random() * 5);
  const totalMinor = count * (10 + Math.floor(Math.random() * 90));
  const total = decimal(totalMinor);
  t.book.count('gift drop', 'tried');
  const key = keyFor(t, 'gift');
  const timestamp = new Date().toISOString();
  const message = giftProofMessage({ type: 'group', roomId: ROOM_ID, count, distribution: 'random', total, currency: 'USD', idempotencyKey: key }, timestamp);
  const answer = await t.caller.call('POST', '/api/v1/wallet/gift/create', {
    token: sender.token,
    body: {
      type: 'group', room_id: ROOM_ID, total_amount: total, currency: 'USD', count, idempotency_key: key,
      auth_proof: { method: 'biometric', proof: { signature: signed(sender.key, message), device_id: sender.deviceId, timestamp } },
    },
  });
  if (answer?.status !== 201) return refused(t, 'gift drop', 'create', answer);
  t.book.gifts.push({ id: answer.body.gift_id as string, sender: sender.userId, openers: new Set() });
  t.book.move(sender.walletId, -totalMinor);
  t.book.count('gift drop', 'succeeded');
}

async function openGift(t: Traffic): Promise<void> {
  if (t.book.gifts.length === 0) return drop(t);
  const gift = pick(t.book.gifts.slice(-10));
  // Each user opens a gift once: ALREADY_OPENED then only comes from a retry whose first answer was lost.
  const openers = t.users.filter((u) => u.userId !== gift.sender && !gift.openers.has(u.userId));
  if (openers.length === 0) return drop(t);
  const opener = pick(openers);
  gift.openers.add(opener.userId);
  t.book.count('gift opening', 'tried');
  const answer = await t.caller.call('POST', `/api/v1/wallet/gift/${gift.id}/open`, { token: opener.token, body: ({}) });
  if (answer?.status === 200) {
    t.book.move(opener.walletId, minorOf(answer.body.amount_received));
    t.book.count('gift opening', 'succeeded');
    return;
  }
  // Taken already (by a retry whose first answer was lost: the money is in) or empty: both are answers.
  const code = answer?.body?.error?.code as string | undefined;
  if (code === 'ALREADY_OPENED') {
    t.book.move(opener.walletId, minorOf(answer!.body.error.details.amount_received));
    t.book.count('gift opening', 'succeeded');
    return;
  }
  if (code === 'GIFT_EMPTY') return void t.book.count('gift opening', 'succeeded');
  refused(t, 'gift opening', 'open', answer);
}

/** One random operation, in the mix the issue names. */
export async function randomOperation(t: Traffic): Promise<void> {
  const r = Math.random();
  if (r < 0.4) return p2p(t);
  if (r < 0.65) return payment(t);
  if (r < 0.75) return refund(t);
  if (r < 0.85) return drop(t);
  return openGift(t);
}
