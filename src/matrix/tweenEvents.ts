import type { DatabaseTransactionConnection } from '../db/pool';
import { P2P_EVENT_TYPE, P2P_STATUS_EVENT_TYPE } from '../domain/p2pEvents';
import type { Logger } from '../logger';
import { paymentsBot } from './bots';

export interface IncomingEvent {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
  origin_server_ts?: number;
}

export interface HandlerContext {
  tx: DatabaseTransactionConnection;
  serverName: string;
  log: Logger;
}

/** Handles one incoming m.tween.* event and names what it made of it (kept with the event). */
export type TweenEventHandler = (event: IncomingEvent, ctx: HandlerContext) => Promise<string>;

/**
 * Payment receipts are ours to send: one from anybody but the payments bot is a forgery that a
 * client could render as a payment. It is recorded as such and logged for operators.
 */
const paymentReceipt: TweenEventHandler = async (event, { serverName, log }) => {
  if (event.sender === paymentsBot(serverName)) return 'ours';
  log.warn({ event_id: event.event_id, room_id: event.room_id, type: event.type, sender: event.sender }, 'payment event not sent by the payments bot');
  return 'forged';
};

/** One handler per m.tween.* type; the sagas of later features add theirs here. */
export const TWEEN_EVENT_HANDLERS: Readonly<Record<string, TweenEventHandler>> = {
  [P2P_EVENT_TYPE]: paymentReceipt,
  [P2P_STATUS_EVENT_TYPE]: paymentReceipt,
};

export async function dispatchTweenEvent(event: IncomingEvent, ctx: HandlerContext): Promise<string> {
  const handler = TWEEN_EVENT_HANDLERS[event.type];
  if (handler) return handler(event, ctx);
  ctx.log.info({ event_id: event.event_id, room_id: event.room_id, type: event.type }, 'm.tween event without a handler: ignored');
  return 'ignored';
}
