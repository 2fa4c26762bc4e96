import { amountToJson, formatAmount, type Currency } from './money';

/**
 * Money that entered or left a wallet from outside, told by the payments bot in the room the
 * operation named or in the user's direct room with the bot. The wallet event family of PROTO
 * (`m.tween.wallet.*`); `body` is for clients that do not render it.
 */
export const TOPUP_EVENT_TYPE = 'm.tween.wallet.topup';
export const WITHDRAWAL_EVENT_TYPE = 'm.tween.wallet.withdrawal';

export function topUpCreditedContent(t: { id: string; userId: string; amount: bigint; currency: Currency; txnId: string; provider: string }) {
  return {
    msgtype: TOPUP_EVENT_TYPE,
    body: `${formatAmount(t.amount, t.currency)} ${t.currency} added to your wallet`,
    topup_id: t.id,
    user_id: t.userId,
    amount: amountToJson(t.amount, t.currency),
    currency: t.currency,
    status: 'succeeded',
    txn_id: t.txnId,
    provider: t.provider,
  };
}

export function withdrawalEndedContent(w: { id: string; userId: string; amount: bigint; currency: Currency; status: string; label: string }) {
  const amount = `${formatAmount(w.amount, w.currency)} ${w.currency}`;
  const body = w.status === 'completed' ? `${amount} paid out to ${w.label}` : `${amount} could not be paid out to ${w.label} and is back in your wallet`;
  return {
    msgtype: WITHDRAWAL_EVENT_TYPE,
    body,
    withdrawal_id: w.id,
    user_id: w.userId,
    amount: amountToJson(w.amount, w.currency),
    currency: w.currency,
    status: w.status,
    external_account: w.label,
  };
}
