import { createHash } from 'node:crypto';
import type { Caller } from '../auth/caller';
import type { Config } from '../config';
import { miniappById } from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import type { Logger } from '../logger';
import { ensureBot, matrixUserId, ourBotsIn } from './bots';
import { createPrivateRoom, inviteToRoom, MatrixRequestError, sendRoomEvent, type MatrixSettings } from './client';
import type { Rooms } from './rooms';

/**
 * PROTO 4.16, as this server can do it: a mini-app acts in Matrix with the scopes its user granted
 * (`messaging:send`, `room:create`, `room:invite`), through the app's own bot `@<client_id>:server`,
 * a user of the Application Service's namespace. It does not act as the user: that needs the
 * user's Matrix credentials (PROTO's MAS refresh token), which this server never keeps (a token
 * exchange checks the Matrix token and forgets it), and an Application Service may speak only for
 * its own namespace. So the bot speaks, for the user (each message says whom for), only in rooms
 * the user is in and the bot was let into.
 */
export interface AppActionDeps {
  pool: DatabasePool;
  config: Pick<Config, 'matrix'>;
  rooms: Rooms;
  log: Logger;
}

/** What an app may send: messages (PROTO 8.1.3's cards among them), never the payment bot's m.tween.* events. */
export const SENDABLE_MSGTYPES = ['m.text', 'm.notice', 'm.emote', 'm.tween.card'] as const;

function settingsOf(deps: AppActionDeps): MatrixSettings & { botAvatarUrl: string | undefined } {
  if (!deps.config.matrix) throw new DomainError('SERVICE_UNAVAILABLE', 'This server is not connected to a homeserver', { reason: 'matrix_disabled' });
  return deps.config.matrix;
}

/** The homeserver's refusal as ours: it is not the caller's fault when it is down. */
function fromHomeserver(err: unknown, fields: Record<string, unknown>): never {
  if (!(err instanceof MatrixRequestError)) throw err;
  if (err.retryable || err.status === undefined) throw new DomainError('SERVICE_UNAVAILABLE', 'The homeserver could not be reached; retry', fields);
  throw new DomainError(err.status === 403 ? 'INSUFFICIENT_PERMISSIONS' : 'INVALID_REQUEST', `The homeserver refused: ${err.errcode ?? err.status}`, { ...fields, errcode: err.errcode ?? null });
}

/** The app's bot, which must be in the room beside the user: the user lets the app in by inviting it. */
async function botInRoomWithUser(deps: AppActionDeps, caller: Caller, roomId: string): Promise<string> {
  const { serverName } = settingsOf(deps);
  const bot = matrixUserId(caller.clientId, serverName);
  if (!(await deps.rooms.joinedIn(roomId, [caller.userId])).has(caller.userId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You are not a joined member of room_id', { field: 'room_id', room_id: roomId });
  }
  if (!(await ourBotsIn(deps.pool, roomId, serverName)).includes(bot)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', `The mini-app is not in this room: invite ${bot} first`, { field: 'room_id', room_id: roomId, invite: bot });
  }
  return bot;
}

/** A transaction id per app user, so two users' same txn_id are two messages (the homeserver dedupes per sender and id). */
const txnFor = (userId: string, txnId: string) => `app.${createHash('sha256').update(userId).digest('hex').slice(0, 16)}.${txnId}`;

/**
 * `messaging:send`: a message from the app's bot into a room the user and the bot are in, naming
 * the user it was sent for. Retrying with the same txn_id sends it once (the homeserver's dedupe).
 */
export async function sendForUser(deps: AppActionDeps, caller: Caller, req: { roomId: string; txnId: string; content: Record<string, unknown> }) {
  const settings = settingsOf(deps);
  const bot = await botInRoomWithUser(deps, caller, req.roomId);
  // Whom it was sent for, and a card's app, are the server's to say.
  const content = {
    ...req.content,
    ...(req.content.msgtype === 'm.tween.card' ? { miniapp_id: caller.clientId } : {}),
    'm.tween.sent_for': { user_id: caller.userId, miniapp_id: caller.clientId },
  };
  try {
    const sent = await sendRoomEvent(settings, { roomId: req.roomId, type: 'm.room.message', content, txnId: txnFor(caller.userId, req.txnId), asUser: bot });
    return { event_id: sent.eventId, sender: bot };
  } catch (err) {
    return fromHomeserver(err, { room_id: req.roomId });
  }
}

/** `room:create`: a private room the app's bot creates for the user, inviting them (and, with `room:invite`, the others named). */
export async function createRoomForUser(deps: AppActionDeps, caller: Caller, req: { name: string; topic?: string; invite: string[] }) {
  const settings = settingsOf(deps);
  const app = await miniappById(deps.pool, caller.clientId);
  if (!app) throw new DomainError('MINIAPP_NOT_FOUND', 'The mini-app is not registered', { client_id: caller.clientId });
  const bot = matrixUserId(caller.clientId, settings.serverName);
  try {
    await ensureBot(settings, { localpart: caller.clientId, displayName: app.name });
    const invite = [...new Set([caller.userId, ...req.invite])];
    const room = await createPrivateRoom(settings, bot, { name: req.name, ...(req.topic ? { topic: req.topic } : {}), invite });
    deps.log.info({ room_id: room.roomId, client_id: caller.clientId, invited: invite.length }, 'room created for a mini-app user');
    return { room_id: room.roomId, creator: bot, invited: invite };
  } catch (err) {
    return fromHomeserver(err, {});
  }
}

/** `room:invite`: the app's bot invites someone into a room the user and the bot are in. */
export async function inviteForUser(deps: AppActionDeps, caller: Caller, req: { roomId: string; userId: string }) {
  const settings = settingsOf(deps);
  const bot = await botInRoomWithUser(deps, caller, req.roomId);
  try {
    await inviteToRoom(settings, req.roomId, bot, req.userId);
    return { room_id: req.roomId, invited: req.userId, by: bot };
  } catch (err) {
    return fromHomeserver(err, { room_id: req.roomId, user_id: req.userId });
  }
}
