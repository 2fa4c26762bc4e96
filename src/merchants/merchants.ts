import { merchantBalances } from '../db/ledger';
import type { DatabasePool } from '../db/pool';
import { amountToJson, isCurrency } from '../domain/money';
import { accountHistoryView } from '../wallet/history';

/**
 * What a mini-app's backend reads of its merchant account (the takings of its payments, less its
 * refunds and payouts): a balance per currency, and its entries with a wallet's paging.
 */
export async function merchantBalanceView(pool: DatabasePool, clientId: string) {
  const rows = await merchantBalances(pool, clientId);
  return {
    client_id: clientId,
    balances: rows.flatMap(({ currency, available, paying_out }) =>
      isCurrency(currency) ? [{ currency, available: amountToJson(available, currency), paying_out: amountToJson(paying_out, currency) }] : [],
    ),
  };
}

export function merchantHistoryView(pool: DatabasePool, clientId: string, page: { limit: number; offset: number; snapshot?: string }) {
  return accountHistoryView(pool, { kind: 'merchant', clientId }, page);
}
