import { walletUsage } from '../db/ledger';
import type { DatabaseConnection } from '../db/pool';
import type { Wallet } from '../db/wallets';
import { DomainError } from '../domain/errors';
import { amountToJson } from '../domain/money';
import { verificationLevel } from '../domain/verification';

/** Every money flow's sending limits (P2P, payments, gifts), in one place. */

/**
 * PROTO 6.4.3: what the sender's verification level allows, then the per-transaction, daily and
 * monthly limits (UTC days and months), counted on money that left the wallet.
 */
export async function checkSendLimits(db: DatabaseConnection, wallet: Wallet, amount: bigint, use: 'send' | 'withdraw' = 'send'): Promise<void> {
  refuseOverLimits(wallet, amount, await walletUsage(db, wallet.id, wallet.currency), use);
}

/** checkSendLimits with the wallet's usage already read (a statement that read it with the accounts locked). */
export function refuseOverLimits(wallet: Wallet, amount: bigint, used: { day: bigint; month: bigint }, use: 'send' | 'withdraw' = 'send'): void {
  const level = verificationLevel(wallet.verification_level);
  if (use === 'withdraw' && !level.features.withdrawals) {
    throw new DomainError('WITHDRAWAL_NOT_ALLOWED', `Your verification level (${level.name}) does not allow withdrawals`, {
      verification_level: wallet.verification_level,
      level_name: level.name,
    });
  }
  if (use === 'send' && !level.features.p2p_send) {
    throw new DomainError('P2P_SEND_NOT_ALLOWED', `Your verification level (${level.name}) does not allow sending money`, {
      verification_level: wallet.verification_level,
      level_name: level.name,
    });
  }
  const money = (minor: bigint) => amountToJson(minor, wallet.currency);
  if (amount > wallet.transaction_limit) {
    throw new DomainError('AMOUNT_EXCEEDS_LIMIT', 'Amount exceeds the per-transaction limit', {
      field: 'amount',
      transaction_limit: money(wallet.transaction_limit),
      currency: wallet.currency,
    });
  }
  for (const [period, limit, spent, code] of [
    ['daily', wallet.daily_limit, used.day, 'DAILY_LIMIT_EXCEEDED'],
    ['monthly', wallet.monthly_limit, used.month, 'MONTHLY_LIMIT_EXCEEDED'],
  ] as const) {
    if (spent + amount > limit) {
      throw new DomainError(code, `Amount exceeds what is left of the ${period} limit`, {
        [`${period}_limit`]: money(limit),
        [`${period}_used`]: money(spent),
        remaining: money(limit > spent ? limit - spent : 0n),
        currency: wallet.currency,
      });
    }
  }
}

