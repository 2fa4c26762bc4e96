import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ConfirmRequest, P2PSnapshot, PartyRequest, RejectRequest } from '../src/domain/p2p';

/** The P2P saga's messages, shared by the workflow and the API that sends them. */
export const confirmP2P = defineUpdate<P2PSnapshot, [ConfirmRequest]>('confirm');
export const acceptP2P = defineUpdate<P2PSnapshot, [PartyRequest]>('accept');
export const rejectP2P = defineUpdate<P2PSnapshot, [RejectRequest]>('reject');
export const cancelP2P = defineUpdate<P2PSnapshot, [PartyRequest]>('cancel');
export const p2pState = defineQuery<P2PSnapshot>('state');
