import { postEntryIn } from '../db/ledger';
import { changeTransferStatus, transferById, type Transfer } from '../db/p2p';
import type { DatabaseConnection, DatabasePool, DatabaseTransactionConnection } from '../db/pool';
import { walletById, walletsOfTransfer, type Wallet } from '../db/wallets';
import { DomainError } from '../domain/errors';
import { walletInviteUrl } from '../domain/wallets';
import type { AccountRef, EntryKind } from '../domain/ledger';
import type { P2PState } from '../domain/p2p';
import { refuseOverLimits } from './limits';

/**
 * One answer for a recipient without an active wallet and for one the sender shares no room with
 * (PROTO 6.3.7), at initiate and at confirm: the sender learns nothing about other people's wallets.
 */
export function recipientNoWallet(recipient: string): DomainError {
  return new DomainError(
    'RECIPIENT_NO_WALLET',
    'Recipient does not have an active wallet',
    { recipient, can_invite: true, invite_url: walletInviteUrl(recipient) },
    true,
  );
}

async function activeWallet(db: DatabaseConnection, walletId: string, who: 'sender' | 'recipient'): Promise<Wallet> {
  const wallet = await walletById(db, walletId);
  if (!wallet || wallet.status !== 'active') {
    throw new DomainError('WALLET_SUSPENDED', `The ${who}'s wallet is not active`, { wallet_id: walletId, wallet_status: wallet?.status });
  }
  return wallet;
}

const walletAccount = (t: Transfer, walletId: string): AccountRef => ({ kind: 'wallet', walletId, currency: t.currency });
const holdAccount = (t: Transfer): AccountRef => ({ kind: 'hold', walletId: t.sender_wallet_id, currency: t.currency });

/** One movement of a transfer's amount; the key is fixed per transfer and step, so a retry writes nothing twice. */
interface Movement {
  step: 'transfer' | 'hold' | 'release' | 'refund';
  kind: EntryKind;
  from: AccountRef;
  to: AccountRef;
  guard?: (tx: DatabaseConnection) => Promise<void>;
  metadata?: Record<string, unknown>;
}

function move(tx: DatabaseTransactionConnection, t: Transfer, { step, kind, from, to, guard, metadata }: Movement) {
  return postEntryIn(
    tx,
    {
      idempotencyKey: `p2p:${t.id}:${step}`,
      kind,
      reference: t.id,
      metadata: { transfer_id: t.id, ...metadata },
      postings: [
        { account: from, amount: -t.amount },
        { account: to, amount: t.amount },
      ],
    },
    { guard },
  );
}

export async function lockedTransfer(db: DatabaseConnection, transferId: string): Promise<Transfer> {
  const transfer = await transferById(db, transferId, true);
  if (!transfer) throw new DomainError('TRANSFER_NOT_FOUND', 'Transfer does not exist', { transfer_id: transferId });
  return transfer;
}

function stateError(t: Transfer, action: string): DomainError {
  return new DomainError('INVALID_STATE', `Cannot ${action} a transfer in state ${t.status}`, { transfer_id: t.id, status: t.status });
}

/**
 * Moves the money of a confirmed transfer: to the recipient, or into the sender's hold when the
 * recipient must accept. Entry and status change commit together; limits and wallet statuses are
 * checked again under the account locks, so concurrent transfers cannot overrun a limit.
 */
export async function settleTransfer(
  pool: DatabasePool,
  request: { transferId: string; authMethod: string; authAttempts: number; acceptanceExpiresAt?: string },
): Promise<SettledTransfer> {
  return pool.transaction(async (tx) => {
    const t = await lockedTransfer(tx, request.transferId);
    return settledBefore(t) ?? settleLockedTransfer(tx, t, request);
  });
}

export interface SettledTransfer {
  status: 'completed' | 'pending_recipient_acceptance';
  at: string;
}

const settledStatus = (t: Transfer) => (t.recipient_acceptance_required ? 'pending_recipient_acceptance' : 'completed');

/** How a transfer was settled, if it was (a retried settlement answers this and writes nothing). */
export function settledBefore(t: Transfer): SettledTransfer | undefined {
  const target = settledStatus(t);
  return t.status === target && t.confirmed_at ? { status: target, at: t.confirmed_at.toISOString() } : undefined;
}

/** settleTransfer inside the caller's transaction, on a transfer it has locked (lockedTransfer) and found not settled. */
export async function settleLockedTransfer(
  tx: DatabaseTransactionConnection,
  t: Transfer,
  request: { authMethod: string; authAttempts: number; acceptanceExpiresAt?: string },
): Promise<SettledTransfer> {
  const target = settledStatus(t);
  if (t.status !== 'pending_authorization') throw stateError(t, 'confirm');
  const guard = async (db: DatabaseConnection) => {
    // Both wallets and the sender's usage in one read: this runs with the accounts locked.
    const { sender, recipientStatus, used } = await walletsOfTransfer(db, t.sender_wallet_id, t.recipient_wallet_id);
    if (!sender || sender.status !== 'active') {
      throw new DomainError('WALLET_SUSPENDED', "The sender's wallet is not active", { wallet_id: t.sender_wallet_id, wallet_status: sender?.status });
    }
    if (recipientStatus !== 'active') throw recipientNoWallet(t.recipient_user_id);
    refuseOverLimits(sender, t.amount, used);
  };
  const from = walletAccount(t, t.sender_wallet_id);
  if (t.recipient_acceptance_required) await move(tx, t, { step: 'hold', kind: 'p2p_hold', from, to: holdAccount(t), guard });
  else await move(tx, t, { step: 'transfer', kind: 'p2p_transfer', from, to: walletAccount(t, t.recipient_wallet_id), guard });
  const row = await changeTransferStatus(tx, t.id, {
    status: target,
    from: ['pending_authorization'],
    authMethod: request.authMethod,
    authAttempts: request.authAttempts,
    confirmed: true,
    acceptanceExpiresAt: request.acceptanceExpiresAt,
  });
  return { status: target, at: row.confirmed_at!.toISOString() };
}

const OUTCOMES = {
  accepted: { status: 'completed', stamp: 'completed_at' },
  rejected: { status: 'rejected', stamp: 'rejected_at' },
  expired: { status: 'expired', stamp: 'expired_at' },
} as const satisfies Record<string, { status: P2PState; stamp: keyof Transfer }>;

/** Ends a held transfer: the hold goes to the recipient (accepted) or back to the sender (rejected, expired). */
export async function finishHeldTransfer(
  pool: DatabasePool,
  request: { transferId: string; outcome: keyof typeof OUTCOMES; reason?: string; message?: string },
): Promise<{ status: P2PState; at: string }> {
  const { status, stamp } = OUTCOMES[request.outcome];
  return pool.transaction(async (tx) => {
    const t = await lockedTransfer(tx, request.transferId);
    const doneAt = t[stamp];
    if (t.status === status && doneAt) return { status, at: doneAt.toISOString() };
    if (t.status !== 'pending_recipient_acceptance') throw stateError(t, request.outcome === 'accepted' ? 'accept' : 'end');
    if (request.outcome === 'accepted') {
      const guard = async (db: DatabaseConnection) => void (await activeWallet(db, t.recipient_wallet_id, 'recipient'));
      await move(tx, t, { step: 'release', kind: 'p2p_release', from: holdAccount(t), to: walletAccount(t, t.recipient_wallet_id), guard });
    } else {
      const metadata = request.message ? { reason: request.reason, message: request.message } : { reason: request.reason ?? request.outcome };
      await move(tx, t, { step: 'refund', kind: 'p2p_refund', from: holdAccount(t), to: walletAccount(t, t.sender_wallet_id), metadata });
    }
    const row = await changeTransferStatus(tx, t.id, {
      status,
      from: ['pending_recipient_acceptance'],
      reason: request.outcome === 'accepted' ? undefined : (request.reason ?? request.outcome),
    });
    return { status, at: row[stamp]!.toISOString() };
  });
}

/** Ends a transfer before any money moved (cancelled, auth_failed). */
export async function closeTransfer(
  pool: DatabasePool,
  request: { transferId: string; status: 'cancelled' | 'auth_failed'; reason: string; authAttempts: number },
): Promise<{ at: string }> {
  const row = await changeTransferStatus(pool, request.transferId, {
    status: request.status,
    from: ['pending_authorization'],
    reason: request.reason,
    authAttempts: request.authAttempts,
  });
  if (row.status !== request.status || !row.cancelled_at) throw stateError(row, 'close');
  return { at: row.cancelled_at.toISOString() };
}
