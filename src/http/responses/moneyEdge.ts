import { z } from 'zod';
import { TOPUP_STATUSES } from '../../db/topups';
import { WITHDRAWAL_STATES } from '../../domain/withdrawals';
import { merchantBalanceView, merchantHistoryView } from '../../merchants/merchants';
import { getTopUp, requestTopUp } from '../../topups/topups';
import { externalAccountView, listExternalAccounts } from '../../withdrawals/externalAccounts';
import { getWithdrawal, listWithdrawals, withdrawalView } from '../../withdrawals/withdrawals';
import { AmountAnswer, CurrencyCode, describes, HistoryPage, Instant, OffsetPage } from './common';

/** PROTO 6.6 funding: where to pay while it waits, and how it ended. */
export const TopUpAnswer = describes(
  z.object({
    topup_id: z.string(),
    status: z.enum(TOPUP_STATUSES),
    amount: AmountAnswer,
    currency: CurrencyCode,
    provider: z.string(),
    checkout_url: z.string().url().optional(),
    client_secret: z.string().optional(),
    txn_id: z.string().optional(),
    room_id: z.string().optional(),
    status_reason: z.string().optional(),
    created_at: Instant,
    expires_at: Instant,
    finished_at: Instant.optional(),
  }),
  getTopUp,
  async (...args: Parameters<typeof requestTopUp>) => (await requestTopUp(...args)).body,
);

export const ExternalAccountAnswer = describes(
  z.object({
    external_account_id: z.string(),
    type: z.enum(['bank_account', 'card']),
    label: z.string(),
    currency: CurrencyCode,
    provider: z.string(),
    created_at: Instant,
    removed_at: Instant.optional(),
  }),
  externalAccountView,
);
export const ExternalAccountList = describes(z.object({ external_accounts: z.array(ExternalAccountAnswer) }), listExternalAccounts);

export const WithdrawalAnswer = describes(
  z.object({
    withdrawal_id: z.string(),
    status: z.enum(WITHDRAWAL_STATES),
    amount: AmountAnswer,
    currency: CurrencyCode,
    external_account_id: z.string(),
    provider: z.string(),
    status_reason: z.string().optional(),
    txn_id: z.string().optional(),
    refund_txn_id: z.string().optional(),
    refunded: z.literal(true).optional(),
    created_at: Instant,
    deadline_at: Instant,
    finished_at: Instant.optional(),
  }),
  withdrawalView,
  getWithdrawal,
);
export const WithdrawalList = describes(z.object({ withdrawals: z.array(WithdrawalAnswer), pagination: OffsetPage }), listWithdrawals);

export const MerchantBalance = describes(
  z.object({ client_id: z.string(), balances: z.array(z.object({ currency: CurrencyCode, available: AmountAnswer, paying_out: AmountAnswer })) }),
  merchantBalanceView,
);
export const MerchantHistory = describes(HistoryPage, merchantHistoryView);
