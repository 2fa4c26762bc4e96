import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import type { DatabaseConnection } from './pool';

import { WALLET_STATUSES, type WalletStatus } from '../domain/wallets';

export { WALLET_STATUSES, type WalletStatus } from '../domain/wallets';

export const WalletRow = z.object({
  id: z.string(),
  user_id: z.string(),
  currency: z.string().transform((c) => c.trim() as Currency),
  status: z.enum(WALLET_STATUSES),
  verification_level: z.number().int(),
  verified_at: z.date().nullable(),
  transaction_limit: z.bigint(),
  daily_limit: z.bigint(),
  monthly_limit: z.bigint(),
  require_p2p_acceptance: z.boolean(),
  require_payment_mfa: z.boolean(),
  created_at: z.date(),
});
export type Wallet = z.infer<typeof WalletRow>;

const COLUMN_NAMES = ['id', 'user_id', 'currency', 'status', 'verification_level', 'verified_at', 'transaction_limit', 'daily_limit', 'monthly_limit', 'require_p2p_acceptance', 'require_payment_mfa', 'created_at'] as const;

/** WalletRow's columns, of the wallets table named `alias` in a query that joins it to others. */
export const walletColumns = (alias: string) => sql.join(COLUMN_NAMES.map((name) => sql.identifier([alias, name])), sql.fragment`, `);

const COLUMNS = sql.join(COLUMN_NAMES.map((name) => sql.identifier([name])), sql.fragment`, `);

export interface NewWallet {
  id: string;
  userId: string;
  currency: Currency;
  transactionLimit: bigint;
  dailyLimit: bigint;
  monthlyLimit: bigint;
}

/** Creates the user's wallet with its account, or returns the existing one (`created: false`). */
export async function insertWallet(db: DatabaseConnection, w: NewWallet): Promise<{ wallet: Wallet; created: boolean }> {
  return db.transaction(async (tx) => {
    const inserted = await tx.maybeOne(sql.type(WalletRow)`
      INSERT INTO wallets (id, user_id, currency, transaction_limit, daily_limit, monthly_limit)
      VALUES (${w.id}, ${w.userId}, ${w.currency}, ${w.transactionLimit}, ${w.dailyLimit}, ${w.monthlyLimit})
      ON CONFLICT (user_id) DO NOTHING
      RETURNING ${COLUMNS}`);
    if (!inserted) {
      return { wallet: await tx.one(sql.type(WalletRow)`SELECT ${COLUMNS} FROM wallets WHERE user_id = ${w.userId}`), created: false };
    }
    await tx.query(sql.unsafe`
      INSERT INTO accounts (kind, owner, wallet_id, currency) VALUES ('wallet', ${w.id}, ${w.id}, ${w.currency})
      ON CONFLICT DO NOTHING`);
    return { wallet: inserted, created: true };
  });
}

export function walletByUser(db: DatabaseConnection, userId: string): Promise<Wallet | null> {
  return db.maybeOne(sql.type(WalletRow)`SELECT ${COLUMNS} FROM wallets WHERE user_id = ${userId}`);
}

export function walletById(db: DatabaseConnection, walletId: string): Promise<Wallet | null> {
  return db.maybeOne(sql.type(WalletRow)`SELECT ${COLUMNS} FROM wallets WHERE id = ${walletId}`);
}

export function walletsByUsers(db: DatabaseConnection, userIds: readonly string[]): Promise<readonly Wallet[]> {
  return db.any(sql.type(WalletRow)`SELECT ${COLUMNS} FROM wallets WHERE user_id = ANY(${sql.array([...userIds], 'text')})`);
}

/** Operator changes: status, verification level (verified now, or never for level 0). Null when no such wallet. */
export function updateWallet(db: DatabaseConnection, walletId: string, change: { status?: WalletStatus; verificationLevel?: number }): Promise<Wallet | null> {
  const sets = [
    sql.fragment`updated_at = now()`,
    ...(change.status !== undefined ? [sql.fragment`status = ${change.status}`] : []),
    ...(change.verificationLevel !== undefined
      ? [sql.fragment`verification_level = ${change.verificationLevel}`, sql.fragment`verified_at = CASE WHEN ${change.verificationLevel} > 0 THEN now() END`]
      : []),
  ];
  return db.maybeOne(sql.type(WalletRow)`
    UPDATE wallets SET ${sql.join(sets, sql.fragment`, `)} WHERE id = ${walletId} RETURNING ${COLUMNS}`);
}

/** The recipient-side policy: when true, every P2P transfer to this wallet waits for acceptance. */
export function setRequireP2PAcceptance(db: DatabaseConnection, walletId: string, required: boolean): Promise<Wallet> {
  return setWalletPolicies(db, walletId, { requireP2PAcceptance: required });
}

/** The owner's policies; those not given keep their value. */
export function setWalletPolicies(db: DatabaseConnection, walletId: string, policies: { requireP2PAcceptance?: boolean; requirePaymentMfa?: boolean }): Promise<Wallet> {
  return db.one(sql.type(WalletRow)`
    UPDATE wallets SET require_p2p_acceptance = coalesce(${policies.requireP2PAcceptance ?? null}::boolean, require_p2p_acceptance),
      require_payment_mfa = coalesce(${policies.requirePaymentMfa ?? null}::boolean, require_payment_mfa), updated_at = now()
    WHERE id = ${walletId} RETURNING ${COLUMNS}`);
}

const TransferWalletsRow = WalletRow.extend({ recipient_status: z.enum(WALLET_STATUSES).nullable(), used_day: z.bigint(), used_month: z.bigint() });

/**
 * What settling a transfer checks, in one statement: the sender's wallet, the recipient wallet's
 * status and the sender's usage today and this month (wallet_spent, migration 0010).
 */
export async function walletsOfTransfer(
  db: DatabaseConnection,
  senderWalletId: string,
  recipientWalletId: string,
): Promise<{ sender: Wallet | null; recipientStatus: WalletStatus | null; used: { day: bigint; month: bigint } }> {
  const row = await db.maybeOne(sql.type(TransferWalletsRow)`
    SELECT ${COLUMNS}, (SELECT r.status FROM wallets r WHERE r.id = ${recipientWalletId}) AS recipient_status,
           u.day AS used_day, u.month AS used_month
    FROM wallets, wallet_spent(wallets.id, wallets.currency) u
    WHERE wallets.id = ${senderWalletId}`);
  if (!row) return { sender: null, recipientStatus: null, used: { day: 0n, month: 0n } };
  const { recipient_status, used_day, used_month, ...sender } = row;
  return { sender, recipientStatus: recipient_status, used: { day: used_day, month: used_month } };
}
