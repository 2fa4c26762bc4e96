import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

export const HistoryRow = z.object({
  txn_id: z.string(),
  kind: z.string(),
  reference: z.string().nullable(),
  metadata: z.record(z.unknown()),
  created_at: z.date(),
  currency: z.string().transform((c) => c.trim()),
  amount: z.bigint(),
  /** Set for P2P entries: the transfer as it stands now (a sent transfer may since have been rejected). */
  transfer: z
    .object({ status: z.string(), sender: z.string(), recipient: z.string(), note: z.string().nullable(), room_id: z.string().nullable() })
    .nullable(),
  /** Set for a withdrawal's hold: where the withdrawal stands now (processing, completed, or given back). */
  withdrawal_status: z.string().nullable(),
});
export type HistoryRow = z.infer<typeof HistoryRow>;

export { SNAPSHOT_PATTERN } from '../domain/ledger';

export interface HistoryPage {
  rows: readonly HistoryRow[];
  total: number;
  snapshot: string;
}

/** Whose movements: a wallet's own account, or a mini-app's merchant account (every currency). */
export type HistoryOwner = { kind: 'wallet'; walletId: string } | { kind: 'merchant'; clientId: string };

const ownerId = (owner: HistoryOwner) => (owner.kind === 'wallet' ? owner.walletId : owner.clientId);

const FROM = sql.fragment`
  FROM accounts a
  JOIN postings p ON p.account_id = a.id
  JOIN journal_entries e ON e.id = p.entry_id`;

/** An entry (e) and its posting (p) as the account's owner sees them: with the transfer or withdrawal it belongs to, as they stand now. */
const COLUMNS = sql.fragment`
  SELECT e.txn_id, e.kind, e.reference, e.metadata, e.created_at, p.currency, p.amount,
    CASE WHEN t.id IS NOT NULL THEN json_build_object(
      'status', t.status, 'sender', t.sender_user_id, 'recipient', t.recipient_user_id, 'note', t.note, 'room_id', t.room_id)
    END AS transfer,
    wd.status AS withdrawal_status`;
const DETAILS = sql.fragment`
  LEFT JOIN p2p_transfers t ON t.id = e.reference AND e.kind LIKE 'p2p%'
  LEFT JOIN withdrawals wd ON wd.id = e.reference AND e.kind = 'withdrawal_hold'`;
const SELECT = sql.fragment`${COLUMNS} ${FROM} ${DETAILS}`;

/** One entry of the account's, by its txn_id (a receipt); none when the entry does not touch the account. */
export function accountEntry(db: DatabaseConnection, owner: HistoryOwner, txnId: string): Promise<HistoryRow | null> {
  return db.maybeOne(sql.type(HistoryRow)`${SELECT} WHERE a.kind = ${owner.kind} AND a.owner = ${ownerId(owner)} AND e.txn_id = ${txnId} LIMIT 1`);
}

/**
 * One page of the account's movements, newest first. Every page is read against one PostgreSQL
 * snapshot (taken on the first page, handed back by the client for the next), so entries committed
 * meanwhile neither shift offsets nor appear twice: pages of one listing never overlap or skip.
 */
export async function accountHistory(
  db: DatabaseConnection,
  owner: HistoryOwner,
  page: { limit: number; offset: number; snapshot?: string },
): Promise<HistoryPage> {
  const snapshot =
    page.snapshot ?? (await db.oneFirst(sql.type(z.object({ s: z.string() }))`SELECT pg_current_snapshot()::text AS s`));
  // A posting carries its transaction's id (NULL: written before migration 0042, seen by every snapshot since).
  const visible = sql.fragment`(p.xid IS NULL OR pg_visible_in_snapshot(p.xid, ${snapshot}::pg_snapshot))`;
  const total = await db.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM accounts a JOIN postings p ON p.account_id = a.id
    WHERE a.kind = ${owner.kind} AND a.owner = ${ownerId(owner)} AND ${visible}`);
  // Each of the owner's accounts (one per currency) walks postings_account_history_idx newest first
  // and stops after offset + limit visible postings; only the page's rows are then joined to their
  // entries and details. A plain join would read and sort the whole history for every page.
  const rows = await db.any(sql.type(HistoryRow)`
    ${COLUMNS}
    FROM (
      SELECT newest.* FROM accounts a
      CROSS JOIN LATERAL (
        SELECT p.entry_id, p.currency, p.amount FROM postings p
        WHERE p.account_id = a.id AND ${visible}
        ORDER BY p.entry_id DESC LIMIT ${page.offset + page.limit}) newest
      WHERE a.kind = ${owner.kind} AND a.owner = ${ownerId(owner)}
      ORDER BY newest.entry_id DESC LIMIT ${page.limit} OFFSET ${page.offset}) p
    JOIN journal_entries e ON e.id = p.entry_id
    ${DETAILS}
    ORDER BY p.entry_id DESC`);
  return { rows, total, snapshot };
}
