import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TopUpCheckout, TopUpSnapshot } from '../src/domain/topups';

/** The top-up's checkout, once the provider made it (the request that created the top-up waits for it). */
export const topUpCheckout = defineUpdate<TopUpCheckout, [{ userId: string }]>('checkout');
/** A provider callback came: ask the provider now instead of at the next poll. */
export const providerReported = defineSignal('providerReported');
export const topUpState = defineQuery<TopUpSnapshot>('state');
