import { accountEntry, accountHistory, type HistoryOwner, type HistoryRow } from '../db/history';
import type { DatabasePool } from '../db/pool';
import type { Wallet } from '../db/wallets';
import { DomainError } from '../domain/errors';
import { amountToJson, isCurrency } from '../domain/money';

/** Transaction type as PROTO 6.2.2 names it, from the entry kind and the direction of the posting. */
function transactionType(row: HistoryRow): string {
  switch (row.kind) {
    case 'funding':
      return 'deposit';
    case 'p2p_transfer':
    case 'p2p_hold':
    case 'p2p_release':
      return row.amount < 0n ? 'p2p_sent' : 'p2p_received';
    case 'p2p_refund':
      return 'p2p_refund';
    case 'withdrawal_hold':
      return 'withdrawal';
    default:
      return row.kind;
  }
}

function transactionView(row: HistoryRow) {
  const currency = isCurrency(row.currency) ? row.currency : 'USD';
  const meta = row.metadata;
  const str = (key: string) => (typeof meta[key] === 'string' ? (meta[key] as string) : undefined);
  const transfer = row.transfer;
  // The other person: a refund comes back from the recipient who did not take the money.
  const counterparty = transfer
    ? row.amount < 0n || row.kind === 'p2p_refund'
      ? transfer.recipient
      : transfer.sender
    : str('counterparty');
  const note = transfer?.note ?? str('note');
  const roomId = transfer?.room_id ?? str('room_id');
  // A refund or release is done when written; the original movement shows where its transfer ended up.
  const status = transfer && (row.kind === 'p2p_transfer' || row.kind === 'p2p_hold') ? transfer.status : (row.withdrawal_status ?? str('status') ?? 'completed');
  return {
    txn_id: row.txn_id,
    type: transactionType(row),
    amount: amountToJson(row.amount < 0n ? -row.amount : row.amount, currency),
    direction: row.amount < 0n ? ('debit' as const) : ('credit' as const),
    currency,
    ...(counterparty ? { [row.amount < 0n ? 'to' : 'from']: { user_id: counterparty } } : {}),
    status,
    ...(note ? { note } : {}),
    ...(row.reference && row.kind !== 'funding' ? { reference: row.reference } : {}),
    timestamp: row.created_at.toISOString(),
    ...(roomId ? { room_id: roomId } : {}),
  };
}

/** PROTO 6.2.2, plus `pagination.snapshot` to pass back so later pages read the same listing. */
export async function historyView(pool: DatabasePool, wallet: Wallet, page: { limit: number; offset: number; snapshot?: string }) {
  return accountHistoryView(pool, { kind: 'wallet', walletId: wallet.id }, page);
}

/** The same page of a merchant account's movements (GET /api/v1/merchant/transactions). */
export async function accountHistoryView(pool: DatabasePool, owner: HistoryOwner, page: { limit: number; offset: number; snapshot?: string }) {
  const { rows, total, snapshot } = await accountHistory(pool, owner, page);
  return {
    transactions: rows.map(transactionView),
    pagination: { total, limit: page.limit, offset: page.offset, has_more: page.offset + rows.length < total, snapshot },
  };
}

/** One entry of the wallet's (PROTO 4.11.4's receipt, which the payment card's view_receipt links to); another's is 404. */
export async function transactionReceipt(pool: DatabasePool, wallet: Wallet, txnId: string) {
  const row = await accountEntry(pool, { kind: 'wallet', walletId: wallet.id }, txnId);
  if (!row) throw new DomainError('NOT_FOUND', 'No such transaction in your wallet', { txn_id: txnId });
  return transactionView(row);
}
