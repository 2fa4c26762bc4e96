import { createHash } from 'node:crypto';
import { z } from 'zod';
import { claimTransaction, claimTweenEvent, forgetMemberSync, MEMBERSHIPS, queueInvite, setMembership, setTweenEventOutcome, type Membership } from '../db/matrix';
import type { DatabasePool, DatabaseTransactionConnection } from '../db/pool';
import type { InviteInput } from '../domain/matrix';
import type { Logger } from '../logger';
import { botFor, inNamespace, ourBotsIn } from './bots';
import { dispatchTweenEvent, type IncomingEvent } from './tweenEvents';

export interface TransactionDeps {
  pool: DatabasePool;
  log: Logger;
  serverName: string;
}

const ClientEvent = z
  .object({
    event_id: z.string().min(1),
    room_id: z.string().min(1),
    type: z.string().min(1),
    sender: z.string().min(1),
    content: z.record(z.unknown()),
    state_key: z.string().optional(),
    origin_server_ts: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .passthrough();
type ClientEvent = z.infer<typeof ClientEvent>;

const isMembership = (value: unknown): value is Membership => typeof value === 'string' && (MEMBERSHIPS as readonly string[]).includes(value);

/**
 * What a retried transaction repeats: its event ids, in order. A transaction id that comes back with
 * other events is a new transaction (Synapse on SQLite reuses ids after a restart).
 */
function eventsDigest(events: readonly unknown[]): string {
  const ids = events.map((e) => (e && typeof e === 'object' && 'event_id' in e ? String(e.event_id) : ''));
  return createHash('sha256').update(JSON.stringify(ids)).digest('hex');
}

/**
 * Applies one AS transaction (`PUT /_matrix/app/v1/transactions/{txnId}`). The txnId is recorded in
 * the same database transaction as the effects of its events, so a transaction is applied once:
 * a repeat (same id, same events) answers `applied: false`, and a failure rolls everything back
 * for Synapse to retry. Nothing here calls another system: invites of our bots are queued in the
 * outbox (returned in `invites`) for their sagas to be started after commit.
 * Ephemeral events (MSC2409) are not asked for, and ignored when they come.
 */
export async function applyTransaction(
  deps: TransactionDeps,
  txnId: string,
  events: readonly unknown[],
): Promise<{ applied: boolean; invites: InviteInput[] }> {
  return deps.pool.transaction(async (tx) => {
    const invites: InviteInput[] = [];
    if (!(await claimTransaction(tx, txnId, eventsDigest(events), events.length))) return { applied: false, invites };
    for (const raw of events) {
      const parsed = ClientEvent.safeParse(raw);
      if (!parsed.success) {
        // One odd event must not make Synapse retry the whole transaction forever.
        deps.log.warn({ txn_id: txnId, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'malformed event skipped');
        continue;
      }
      const invite = await applyEvent(deps, tx, txnId, parsed.data);
      if (invite) invites.push(invite);
    }
    return { applied: true, invites };
  });
}

/** Applies one event; answers the invite it queued, if it is an invite of one of our bots. */
async function applyEvent(deps: TransactionDeps, tx: DatabaseTransactionConnection, txnId: string, event: ClientEvent): Promise<InviteInput | undefined> {
  if (event.type === 'm.room.member' && event.state_key !== undefined) {
    const membership = event.content.membership;
    if (!isMembership(membership)) return undefined;
    await setMembership(tx, event.room_id, event.state_key, membership, event.event_id);
    if (inNamespace(event.state_key, deps.serverName)) return onOurMembership(deps, tx, event, membership);
    return undefined;
  }
  if (event.type.startsWith('m.tween.')) {
    // Claimed first: the same event in two transactions reaches its handler once.
    const claimed = await claimTweenEvent(tx, {
      eventId: event.event_id,
      txnId,
      roomId: event.room_id,
      type: event.type,
      sender: event.sender,
      content: event.content,
      originServerTs: event.origin_server_ts,
    });
    if (!claimed) return undefined;
    const incoming: IncomingEvent = event;
    await setTweenEventOutcome(tx, event.event_id, await dispatchTweenEvent(incoming, { tx, serverName: deps.serverName, log: deps.log }));
  }
  return undefined;
}

/**
 * A membership change of one of our users: queue the acceptance of an invite of a bot we run (the
 * outbox), and notice when we lose sight of a room.
 */
async function onOurMembership(
  deps: TransactionDeps,
  tx: DatabaseTransactionConnection,
  event: ClientEvent,
  membership: Membership,
): Promise<InviteInput | undefined> {
  const userId = event.state_key!;
  if (membership === 'invite') {
    if (!(await botFor(tx, userId, deps.serverName))) {
      deps.log.info({ room_id: event.room_id, user_id: userId }, 'invite for a user we do not run: ignored');
      return undefined;
    }
    const invite = { roomId: event.room_id, botUserId: userId, inviter: event.sender, inviteEventId: event.event_id };
    await queueInvite(tx, invite);
    return invite;
  }
  if (membership === 'leave' || membership === 'ban') {
    if ((await ourBotsIn(tx, event.room_id, deps.serverName)).length === 0) await forgetMemberSync(tx, event.room_id);
  }
  return undefined;
}
