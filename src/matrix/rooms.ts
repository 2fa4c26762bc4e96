import { databaseNow, isMemberListSynced, joinedAmong, joinedMembersOf, replaceJoinedMembers, usersSharingARoom } from '../db/matrix';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import type { Logger } from '../logger';
import { ourBotsIn, paymentsBot } from './bots';
import { joinedMembers, MatrixRequestError, type MatrixSettings } from './client';

/**
 * Room membership for privacy checks (PROTO 6.3.7): who shares a room with whom. Synapse delivers
 * a room's events only from when our bot is in it, so a room's member list is read from the
 * homeserver once (when a bot joins, or when a check first needs it) and kept current from then on
 * by the membership events of each transaction.
 */
export interface Rooms {
  /** False when Matrix is off: there is nothing to check against, and every check passes. */
  readonly enforced: boolean;
  /** Which of `userIds` are joined members of the room. */
  joinedIn(roomId: string, userIds: readonly string[]): Promise<Set<string>>;
  /** Which of `others` share a room with `userId` (both joined). */
  sharingARoom(userId: string, others: readonly string[]): Promise<Set<string>>;
  /** Every joined member of the room (our bots too); undefined when Matrix is off. */
  membersOf(roomId: string): Promise<readonly string[] | undefined>;
}

/**
 * Reads the room's member list as `reader` (one of our users in the room) and stores it. False when
 * the homeserver refuses (the reader is not in the room, or there is no such room); a failure worth
 * retrying is thrown as the MatrixRequestError.
 */
export async function readRoomMembers(pool: DatabasePool, matrix: MatrixSettings, roomId: string, reader: string): Promise<boolean> {
  const startedAt = await databaseNow(pool);
  let members: string[];
  try {
    members = await joinedMembers(matrix, roomId, reader);
  } catch (err) {
    if (err instanceof MatrixRequestError && !err.retryable) return false;
    throw err;
  }
  await replaceJoinedMembers(pool, roomId, members, startedAt);
  return true;
}

export function createRooms(deps: { pool: DatabasePool; matrix: MatrixSettings | undefined; log: Logger }): Rooms {
  const { matrix } = deps;
  if (!matrix) {
    return {
      enforced: false,
      joinedIn: async (_roomId, userIds) => new Set(userIds),
      sharingARoom: async (_userId, others) => new Set(others),
      membersOf: async () => undefined,
    };
  }

  /** As one of our bots known to be in the room, else as the payments bot. */
  const readerFor = async (roomId: string): Promise<string> => {
    const ours = await ourBotsIn(deps.pool, roomId, matrix.serverName);
    const payments = paymentsBot(matrix.serverName);
    return ours.includes(payments) ? payments : (ours[0] ?? payments);
  };

  /** Reads the member list once when we do not keep it yet; false when our bots cannot read it. */
  const synced = async (roomId: string): Promise<boolean> => {
    if (await isMemberListSynced(deps.pool, roomId)) return true;
    let seen: boolean;
    try {
      seen = await readRoomMembers(deps.pool, matrix, roomId, await readerFor(roomId));
    } catch (err) {
      if (!(err instanceof MatrixRequestError)) throw err;
      deps.log.warn({ room_id: roomId, status: err.status, errcode: err.errcode }, err.message);
      throw new DomainError('SERVICE_UNAVAILABLE', 'Room membership cannot be checked right now; retry', { room_id: roomId });
    }
    // What we may hold from earlier is no longer kept current: nobody is known to be in it.
    if (!seen) deps.log.info({ room_id: roomId }, 'room members unknown: our bot cannot read them');
    return seen;
  };

  return {
    enforced: true,
    async joinedIn(roomId, userIds) {
      if (!(await synced(roomId))) return new Set();
      return new Set(await joinedAmong(deps.pool, roomId, userIds));
    },
    async membersOf(roomId) {
      if (!(await synced(roomId))) return [];
      return joinedMembersOf(deps.pool, roomId);
    },
    async sharingARoom(userId, others) {
      return new Set(await usersSharingARoom(deps.pool, userId, others));
    },
  };
}
