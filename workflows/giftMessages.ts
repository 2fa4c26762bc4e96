import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { GiftSnapshot, Opening, StartGiftRequest } from '../src/domain/gifts';

/** The gift workflow's messages, shared by the workflow and the API that sends them. */
export const startGift = defineUpdate<GiftSnapshot, [StartGiftRequest]>('start');
export const openGiftUpdate = defineUpdate<{ opening: Opening; totalOpened: number; remaining: number }, [{ userId: string }]>('open');
export const giftState = defineQuery<GiftSnapshot>('state');
