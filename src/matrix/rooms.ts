import { isMemberListSynced, joinedAmong, joinedMembersOf, replaceJoinedMembers, usersSharingARoom } from '../db/matrix';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import type { Logger } from '../logger';
import { inNamespace, paymentsBot } from './bots';
import { joinedMembers, MatrixRequestError, type MatrixSettings } from './client';

/**
 * Room membership for privacy checks (PROTO 6.3.7): who shares a room with whom, from the
 * membership events the homeserver delivers. A room whose member list we have never read is asked
 * of the homeserver, as our bot in that room, rather than guessed.
 */
export interface Rooms {
  /** False when Matrix is off: there is nothing to check against, and every check passes. */
  readonly enforced: boolean;
  /** Which of `userIds` are joined members of the room. */
  joinedIn(roomId: string, userIds: readonly string[]): Promise<Set<string>>;
  /** Which of `others` share a room with `userId` (both joined). */
  sharingARoom(userId: string, others: readonly string[]): Promise<Set<string>>;
}

export function createRooms(deps: { pool: DatabasePool; matrix: MatrixSettings | undefined; log: Logger }): Rooms {
  const { matrix } = deps;
  if (!matrix) {
    return {
      enforced: false,
      joinedIn: async (_roomId, userIds) => new Set(userIds),
      sharingARoom: async (_userId, others) => new Set(others),
    };
  }

  /** Reads the member list as one of our bots known to be in the room, else as the payments bot. */
  const syncMembers = async (roomId: string): Promise<void> => {
    const ours = (await joinedMembersOf(deps.pool, roomId)).filter((userId) => inNamespace(userId, matrix.serverName));
    const reader = ours.includes(paymentsBot(matrix.serverName)) ? paymentsBot(matrix.serverName) : (ours[0] ?? paymentsBot(matrix.serverName));
    try {
      await replaceJoinedMembers(deps.pool, roomId, await joinedMembers(matrix, roomId, reader));
    } catch (err) {
      if (!(err instanceof MatrixRequestError)) throw err;
      if (!err.retryable) {
        // Not in the room, or no such room: nothing to learn, and nobody is known to be in it.
        deps.log.info({ room_id: roomId, status: err.status, errcode: err.errcode }, 'room members unknown: our bot cannot read them');
        return;
      }
      deps.log.warn({ room_id: roomId, status: err.status, errcode: err.errcode }, err.message);
      throw new DomainError('SERVICE_UNAVAILABLE', 'Room membership cannot be checked right now; retry', { room_id: roomId });
    }
  };

  return {
    enforced: true,
    async joinedIn(roomId, userIds) {
      if (!(await isMemberListSynced(deps.pool, roomId))) await syncMembers(roomId);
      return new Set(await joinedAmong(deps.pool, roomId, userIds));
    },
    async sharingARoom(userId, others) {
      return new Set(await usersSharingARoom(deps.pool, userId, others));
    },
  };
}
