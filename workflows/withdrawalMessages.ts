import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { StartWithdrawal, WithdrawalSnapshot } from '../src/domain/withdrawals';

/** The owner's request: the proof checked and the money held; answers once both are done (Update-with-Start). */
export const startWithdrawal = defineUpdate<WithdrawalSnapshot, [StartWithdrawal]>('start');
/** A provider callback came: ask the provider now instead of at the next poll. */
export const payoutReported = defineSignal('providerReported');
export const withdrawalState = defineQuery<WithdrawalSnapshot>('state');
