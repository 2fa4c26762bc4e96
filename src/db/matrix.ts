import { sql } from 'slonik';
import { z } from 'zod';
import type { InviteInput } from '../domain/matrix';
import type { DatabaseConnection } from './pool';

export const MEMBERSHIPS = ['join', 'invite', 'leave', 'ban', 'knock'] as const;
export type Membership = (typeof MEMBERSHIPS)[number];

/** Records a transaction (its id and the digest of its events); false when it was recorded already (it was applied). */
export async function claimTransaction(db: DatabaseConnection, txnId: string, eventsDigest: string, eventCount: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ txn_id: z.string() }))`
    INSERT INTO appservice_transactions (txn_id, events_digest, event_count) VALUES (${txnId}, ${eventsDigest}, ${eventCount})
    ON CONFLICT (txn_id, events_digest) DO NOTHING
    RETURNING txn_id`);
  return row !== null;
}

async function ensureRoom(db: DatabaseConnection, roomId: string): Promise<void> {
  await db.query(sql.unsafe`INSERT INTO matrix_rooms (room_id) VALUES (${roomId}) ON CONFLICT DO NOTHING`);
}

export async function setMembership(db: DatabaseConnection, roomId: string, userId: string, membership: Membership, eventId: string): Promise<void> {
  await ensureRoom(db, roomId);
  await db.query(sql.unsafe`
    INSERT INTO room_members (room_id, user_id, membership, event_id) VALUES (${roomId}, ${userId}, ${membership}, ${eventId})
    ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id, updated_at = now()`);
}

/** PostgreSQL's clock, so a member list read from the homeserver can be ordered against membership events. */
export function databaseNow(db: DatabaseConnection): Promise<Date> {
  return db.oneFirst(sql.type(z.object({ now: z.date() }))`SELECT clock_timestamp() AS now`);
}

/**
 * The room's member list as the homeserver gave it (read after `readStartedAt`): these users
 * joined, anyone else recorded as joined left. A membership event applied after the read started
 * is newer than the list and is kept.
 */
export async function replaceJoinedMembers(db: DatabaseConnection, roomId: string, joined: readonly string[], readStartedAt: Date): Promise<void> {
  const since = readStartedAt.toISOString();
  await db.transaction(async (tx) => {
    await ensureRoom(tx, roomId);
    await tx.query(sql.unsafe`
      UPDATE room_members SET membership = 'leave', event_id = NULL, updated_at = now()
      WHERE room_id = ${roomId} AND membership = 'join' AND NOT (user_id = ANY(${sql.array([...joined], 'text')}))
        AND updated_at < ${since}::timestamptz`);
    await tx.query(sql.unsafe`
      INSERT INTO room_members (room_id, user_id, membership)
      SELECT ${roomId}, u, 'join' FROM unnest(${sql.array([...joined], 'text')}) AS u
      ON CONFLICT (room_id, user_id) DO UPDATE SET membership = 'join', event_id = NULL, updated_at = now()
        WHERE room_members.updated_at < ${since}::timestamptz`);
    await tx.query(sql.unsafe`UPDATE matrix_rooms SET members_synced_at = now(), updated_at = now() WHERE room_id = ${roomId}`);
  });
}

/** We no longer see the room's events (none of our bots is in it): its member list must be read again. */
export async function forgetMemberSync(db: DatabaseConnection, roomId: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE matrix_rooms SET members_synced_at = NULL, updated_at = now() WHERE room_id = ${roomId}`);
}

export async function isMemberListSynced(db: DatabaseConnection, roomId: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ synced: z.boolean() }))`
    SELECT members_synced_at IS NOT NULL AS synced FROM matrix_rooms WHERE room_id = ${roomId}`);
  return row?.synced ?? false;
}

/** Which of these users are joined members of the room, as far as we know. */
export function joinedAmong(db: DatabaseConnection, roomId: string, userIds: readonly string[]): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ user_id: z.string() }))`
    SELECT user_id FROM room_members WHERE room_id = ${roomId} AND membership = 'join' AND user_id = ANY(${sql.array([...userIds], 'text')})`);
}

/** The rooms a user (one of our bots) is joined to, as far as we know; at most `limit`. */
export function roomsJoinedBy(db: DatabaseConnection, userId: string, limit: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ room_id: z.string() }))`
    SELECT room_id FROM room_members WHERE user_id = ${userId} AND membership = 'join' ORDER BY room_id LIMIT ${limit}`);
}

export function joinedMembersOf(db: DatabaseConnection, roomId: string): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ user_id: z.string() }))`
    SELECT user_id FROM room_members WHERE room_id = ${roomId} AND membership = 'join' ORDER BY user_id`);
}

/**
 * Which of `others` share at least one room with `userId`, both joined. Only rooms whose member
 * list we hold count: in any other, a member may have left without our seeing it.
 */
export function usersSharingARoom(db: DatabaseConnection, userId: string, others: readonly string[]): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ user_id: z.string() }))`
    SELECT DISTINCT other.user_id
    FROM room_members mine
    JOIN matrix_rooms r ON r.room_id = mine.room_id AND r.members_synced_at IS NOT NULL
    JOIN room_members other ON other.room_id = mine.room_id AND other.membership = 'join'
    WHERE mine.user_id = ${userId} AND mine.membership = 'join' AND other.user_id = ANY(${sql.array([...others], 'text')})`);
}

export interface TweenEvent {
  eventId: string;
  txnId: string;
  roomId: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
  originServerTs?: number;
  outcome: string;
}

/** PostgreSQL's jsonb refuses the NUL character, which Matrix content may carry: it is replaced. */
function storableJson(value: unknown): Parameters<typeof sql.jsonb>[0] {
  return JSON.parse(JSON.stringify(value).replace(/\\u0000/g, '\\ufffd')) as Parameters<typeof sql.jsonb>[0];
}

/**
 * Claims an m.tween.* event before its handler runs (outcome `pending`); false when it was claimed
 * already, by an earlier transaction or a concurrent one carrying the same event.
 */
export async function claimTweenEvent(db: DatabaseConnection, e: Omit<TweenEvent, 'outcome'>): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ event_id: z.string() }))`
    INSERT INTO matrix_tween_events (event_id, txn_id, room_id, type, sender, content, origin_server_ts, outcome)
    VALUES (${e.eventId}, ${e.txnId}, ${e.roomId}, ${e.type}, ${e.sender}, ${sql.jsonb(storableJson(e.content))}, ${e.originServerTs ?? null}, 'pending')
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id`);
  return row !== null;
}

export async function setTweenEventOutcome(db: DatabaseConnection, eventId: string, outcome: string): Promise<void> {
  await db.query(sql.unsafe`UPDATE matrix_tween_events SET outcome = ${outcome} WHERE event_id = ${eventId}`);
}

const QueuedInvite = z.object({ invite_event_id: z.string(), room_id: z.string(), bot_user_id: z.string(), inviter: z.string() });

const fromRow = (row: z.infer<typeof QueuedInvite>): InviteInput => ({
  inviteEventId: row.invite_event_id,
  roomId: row.room_id,
  botUserId: row.bot_user_id,
  inviter: row.inviter,
});

/** Records an invite whose saga is to be started after the transaction commits (the outbox). */
export async function queueInvite(db: DatabaseConnection, invite: InviteInput): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO matrix_invite_outbox (invite_event_id, room_id, bot_user_id, inviter)
    VALUES (${invite.inviteEventId}, ${invite.roomId}, ${invite.botUserId}, ${invite.inviter})
    ON CONFLICT (invite_event_id) DO NOTHING`);
}

/** Invites queued before `before` whose saga has not been started yet, oldest first. */
export async function queuedInvites(db: DatabaseConnection, before: Date, limit: number): Promise<InviteInput[]> {
  const rows = await db.any(sql.type(QueuedInvite)`
    SELECT invite_event_id, room_id, bot_user_id, inviter FROM matrix_invite_outbox
    WHERE created_at < ${before.toISOString()}::timestamptz ORDER BY created_at LIMIT ${limit}`);
  return rows.map(fromRow);
}

/** The invite's saga has been started: it leaves the outbox. */
export async function dequeueInvite(db: DatabaseConnection, inviteEventId: string): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM matrix_invite_outbox WHERE invite_event_id = ${inviteEventId}`);
}

/** The user's direct room with the payments bot, if one was made. */
export function directRoomOf(db: DatabaseConnection, userId: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(z.object({ room_id: z.string() }))`SELECT room_id FROM direct_rooms WHERE user_id = ${userId}`);
}

/** Keeps the first direct room made for the user (a second one made at the same moment is left unused); answers the kept one. */
export async function keepDirectRoom(db: DatabaseConnection, userId: string, roomId: string): Promise<string> {
  await db.query(sql.unsafe`INSERT INTO direct_rooms (user_id, room_id) VALUES (${userId}, ${roomId}) ON CONFLICT (user_id) DO NOTHING`);
  return (await directRoomOf(db, userId))!;
}
