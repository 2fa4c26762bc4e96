import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DeviceDecision, PollAnswer } from '../src/domain/deviceGrant';

/** The device grant's messages, shared by the workflow and the API that sends them. */
export const decideDevice = defineUpdate<{ status: 'approved' | 'denied' }, [DeviceDecision]>('decide');
export const pollDevice = defineUpdate<PollAnswer, []>('poll');
export const deviceStatus = defineQuery<{ status: DeviceStatus; intervalMs: number }>('status');

export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'redeemed' | 'expired';
