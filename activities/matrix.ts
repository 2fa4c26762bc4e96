import { ApplicationFailure } from '@temporalio/common';
import type { DatabasePool } from '../src/db/pool';
import type { Logger } from '../src/logger';
import { matrixUserId, paymentsBot, SYSTEM_BOTS } from '../src/matrix/bots';
import { directRoomOf, keepDirectRoom, roomsJoinedBy } from '../src/db/matrix';
import { createHash } from 'node:crypto';
import type { MiniappAnnouncement } from '../src/domain/miniappEvents';
import { matrixSends } from '../src/metrics/metrics';
import { createDirectRoom, inviteToRoom, joinRoom, MatrixRequestError, sendRoomEvent, type MatrixSettings } from '../src/matrix/client';
import { readRoomMembers } from '../src/matrix/rooms';

export interface MatrixActivityDeps {
  pool: DatabasePool;
  log: Logger;
  /** Undefined when no homeserver is configured. */
  matrix: MatrixSettings | undefined;
}

export interface RoomEvent {
  roomId: string;
  type: string;
  content: Record<string, unknown>;
  /** Fixed per saga step, so a retried send is deduplicated by the homeserver. */
  txnId: string;
}

/**
 * A homeserver refusal as the activity's failure: network errors, 5xx and 429 are retried (a 429
 * after its retry_after_ms), anything else fails the step for good with the homeserver's words.
 */
function asFailure(err: MatrixRequestError, type: { retryable: string; refused: string }): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.retryable ? type.retryable : type.refused,
    message: err.message,
    details: [{ status: err.status, errcode: err.errcode, retry_after_ms: err.retryAfterMs }],
    nonRetryable: !err.retryable,
    nextRetryDelay: err.retryAfterMs,
  });
}

function required(matrix: MatrixSettings | undefined): MatrixSettings {
  if (!matrix) throw ApplicationFailure.create({ type: 'MATRIX_OFF', message: 'Matrix is off', nonRetryable: true });
  return matrix;
}

const SEND = { retryable: 'MATRIX_UNAVAILABLE', refused: 'MATRIX_SEND_REFUSED' };

/** A homeserver's refusal of a send, as the activity's failure (retried unless final). */
export const matrixFailure = (err: MatrixRequestError) => asFailure(err, SEND);
const JOIN = { retryable: 'MATRIX_UNAVAILABLE', refused: 'MATRIX_JOIN_REFUSED' };

/**
 * Injects an event into a room as the payments bot. Refused with M_FORBIDDEN (typically: the bot is
 * not in the room), the bot joins (which works where it is invited or the room is public) and
 * sends once more; a second refusal is final.
 */
export async function sendAsPaymentsBot(deps: MatrixActivityDeps, event: RoomEvent): Promise<{ eventId?: string; skipped?: 'matrix_off' }> {
  try {
    const sent = await sendOnceAsPaymentsBot(deps, event);
    matrixSends.inc({ result: sent.skipped ? 'skipped' : 'sent' });
    return sent;
  } catch (err) {
    matrixSends.inc({ result: 'failed' });
    throw err;
  }
}

async function sendOnceAsPaymentsBot(deps: MatrixActivityDeps, event: RoomEvent): Promise<{ eventId?: string; skipped?: 'matrix_off' }> {
  const { matrix } = deps;
  if (!matrix) {
    deps.log.info({ room_id: event.roomId, type: event.type, txn_id: event.txnId }, 'Matrix is off: room event skipped');
    return { skipped: 'matrix_off' };
  }
  const asUser = paymentsBot(matrix.serverName);
  const send = () => sendRoomEvent(matrix, { ...event, asUser });
  const log = (err: MatrixRequestError, message: string) =>
    deps.log.warn({ room_id: event.roomId, type: event.type, txn_id: event.txnId, status: err.status, errcode: err.errcode }, message);
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof MatrixRequestError)) throw err;
    if (err.errcode !== 'M_FORBIDDEN') {
      log(err, err.message);
      throw asFailure(err, SEND);
    }
  }
  try {
    await joinRoom(matrix, event.roomId, asUser);
    return await send();
  } catch (err) {
    if (!(err instanceof MatrixRequestError)) throw err;
    log(err, `not in the room, and joining or sending after joining failed: ${err.message}`);
    throw asFailure(err, SEND);
  }
}

/** The user's direct room with the payments bot: the one made before, or a new one (the user is invited). */
export async function directRoomWith(deps: MatrixActivityDeps, matrix: MatrixSettings, userId: string): Promise<string> {
  const known = await directRoomOf(deps.pool, userId);
  if (known) return known;
  try {
    const { roomId } = await createDirectRoom(matrix, paymentsBot(matrix.serverName), userId, 'Payments');
    return await keepDirectRoom(deps.pool, userId, roomId);
  } catch (err) {
    if (!(err instanceof MatrixRequestError)) throw err;
    deps.log.warn({ user_id: userId, status: err.status, errcode: err.errcode }, `could not make a direct room with the payments bot: ${err.message}`);
    throw asFailure(err, SEND);
  }
}

/** Rooms an announcement reaches at most: the app's bot's rooms, as far as we know them. */
const ANNOUNCEMENT_ROOMS = 500;

/**
 * One room's lifecycle event from the updater bot. Not in the room yet, it is let in by the app's
 * bot (an invitation the updater accepts) and sends again. Answers whether it was sent; a final
 * refusal (the room is gone, the app's bot may not invite) skips the room; a retryable one throws.
 */
async function announceInRoom(deps: MatrixActivityDeps, matrix: MatrixSettings, req: MiniappAnnouncement & { txnId: string; roomId: string }): Promise<boolean> {
  const updater = matrixUserId(SYSTEM_BOTS.updater.localpart, matrix.serverName);
  const appBot = matrixUserId(req.clientId, matrix.serverName);
  const send = () => sendRoomEvent(matrix, { roomId: req.roomId, type: req.type, content: req.content, txnId: req.txnId, asUser: updater });
  const skip = (err: MatrixRequestError) => {
    deps.log.warn({ room_id: req.roomId, client_id: req.clientId, type: req.type, errcode: err.errcode }, `the updater bot could not announce in the room: ${err.message}`);
    return false;
  };
  try {
    await send();
    return true;
  } catch (err) {
    if (!(err instanceof MatrixRequestError)) throw err;
    if (err.retryable) throw asFailure(err, SEND);
    if (err.errcode !== 'M_FORBIDDEN') return skip(err);
  }
  try {
    // Already invited or joined is a refusal of the invitation, not of the join that follows.
    await inviteToRoom(matrix, req.roomId, appBot, updater).catch((err: unknown) => {
      if (!(err instanceof MatrixRequestError) || err.retryable) throw err;
    });
    await joinRoom(matrix, req.roomId, updater);
    await send();
    return true;
  } catch (err) {
    if (!(err instanceof MatrixRequestError)) throw err;
    if (err.retryable) throw asFailure(err, SEND);
    return skip(err);
  }
}

export function matrixActivities(deps: MatrixActivityDeps) {
  return {
    /**
     * PROTO 8.1.4: a mini-app's lifecycle event, from the updater bot, into every room the app's bot
     * is in. Each room's send has its own transaction id, so a retried activity sends each once.
     */
    async announceToAppRooms(req: MiniappAnnouncement & { announcementId: string }): Promise<{ sent: number; skipped: number }> {
      if (!deps.matrix) return { sent: 0, skipped: 0 };
      const matrix = deps.matrix;
      const rooms = await roomsJoinedBy(deps.pool, matrixUserId(req.clientId, matrix.serverName), ANNOUNCEMENT_ROOMS);
      let sent = 0;
      for (const roomId of rooms) {
        const txnId = `${req.announcementId}.${createHash('sha256').update(roomId).digest('hex').slice(0, 16)}`;
        if (await announceInRoom(deps, matrix, { ...req, roomId, txnId })) sent += 1;
      }
      return { sent, skipped: rooms.length - sent };
    },

    /**
     * Injects an event into a room as the payments bot. Refused with M_FORBIDDEN (typically: the
     * bot is not in the room), the bot joins (which works where it is invited or the room is
     * public) and sends once more; a second refusal is final.
     */
    async sendMatrixEvent(event: RoomEvent): Promise<{ eventId?: string; skipped?: 'matrix_off' }> {
      return sendAsPaymentsBot(deps, event);
    },

    /** Joins one of our bots to a room it was invited to. */
    async joinRoomAsBot(req: { roomId: string; botUserId: string }): Promise<{ roomId: string }> {
      const matrix = required(deps.matrix);
      try {
        return await joinRoom(matrix, req.roomId, req.botUserId);
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        deps.log.warn({ room_id: req.roomId, user_id: req.botUserId, status: err.status, errcode: err.errcode }, `joining on invite failed: ${err.message}`);
        throw asFailure(err, JOIN);
      }
    },

    /** Reads and stores the member list of a room, as our bot in it: the members who joined before the bot. */
    async readRoomMembersAsBot(req: { roomId: string; botUserId: string }): Promise<{ read: boolean }> {
      const matrix = required(deps.matrix);
      try {
        return { read: await readRoomMembers(deps.pool, matrix, req.roomId, req.botUserId) };
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        throw asFailure(err, JOIN);
      }
    },
  };
}
