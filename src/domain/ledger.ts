import type { Currency } from './money';

/**
 * Where money sits. Wallet and hold accounts belong to a user's wallet (a hold keeps money the
 * wallet has sent but that has not settled yet); merchants are mini-apps; escrow keeps gift money;
 * funding is the system account standing for money that entered from outside.
 */
export type AccountRef =
  | { kind: 'wallet' | 'hold'; walletId: string; currency: Currency }
  | { kind: 'merchant'; clientId: string; currency: Currency }
  /** One per gift: the money of the gift until it is opened or goes back to the sender. */
  | { kind: 'escrow'; giftId: string; currency: Currency }
  | { kind: 'funding'; currency: Currency }
  /** One per wallet provider: the money it holds for us; top-ups credit wallets from it. */
  | { kind: 'provider'; provider: string; currency: Currency }
  /** One per withdrawal: its money while the provider pays it out, until settled or given back. */
  | { kind: 'payout'; withdrawalId: string; currency: Currency };

export type AccountKind = AccountRef['kind'];

/**
 * Accounts that stand for money outside the ledger (the system's funding, a provider's clearing):
 * the only ones that go below zero. The database's balance_non_negative check says the same.
 */
export const OUTSIDE_KINDS: ReadonlySet<AccountKind> = new Set(['funding', 'provider']);

/**
 * Kinds of journal entries. A refund kind (money given back to the wallet it left, referencing the
 * same business object) must also be listed in the database's `refund_kinds()`, which keeps the
 * limits' usage totals (migration 0007).
 */
export const ENTRY_KINDS = ['funding', 'p2p_transfer', 'p2p_hold', 'p2p_release', 'p2p_refund', 'payment', 'payment_refund', 'gift_fund', 'gift_open', 'gift_refund', 'topup', 'withdrawal_hold', 'withdrawal_settle', 'withdrawal_refund'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export interface PostingInput {
  account: AccountRef;
  /** Minor units; positive credits the account, negative debits it. */
  amount: bigint;
}

export interface EntryInput {
  /** Unique per movement; posting the same key again writes nothing and returns the first result. */
  idempotencyKey: string;
  kind: EntryKind;
  /** The business object the entry belongs to (a transfer id, a payment id). */
  reference?: string;
  metadata?: Record<string, unknown>;
  postings: PostingInput[];
}

export function accountOwner(ref: AccountRef): string {
  switch (ref.kind) {
    case 'wallet':
    case 'hold':
      return ref.walletId;
    case 'merchant':
      return ref.clientId;
    case 'escrow':
      return ref.giftId;
    case 'funding':
      return 'system';
    case 'provider':
      return ref.provider;
    case 'payout':
      return ref.withdrawalId;
  }
}

export function accountKey(ref: AccountRef): string {
  return `${ref.kind}:${accountOwner(ref)}:${ref.currency}`;
}

/** A history page's pagination.snapshot: PostgreSQL's pg_snapshot text form, xmin:xmax:xip,xip,... */
export const SNAPSHOT_PATTERN = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20}){0,1000})?$/;

/**
 * Whether PostgreSQL would take the text as a pg_snapshot: besides the pattern, 0 < xmin <= xmax
 * (below 2^63) and each in-progress xid, ascending, from xmin up to xmax. Anything else it refuses,
 * which would fail the query: such a snapshot is the client's bad input.
 */
export function isSnapshot(text: string): boolean {
  if (!SNAPSHOT_PATTERN.test(text)) return false;
  const [xmin, xmax, xips] = text.split(':') as [string, string, string];
  const low = BigInt(xmin);
  const high = BigInt(xmax);
  if (low < 1n || low > high || high >= 2n ** 63n) return false;
  let last = low;
  for (const xip of xips ? xips.split(',').map(BigInt) : []) {
    if (xip < last || xip >= high) return false;
    last = xip;
  }
  return true;
}
