import { sql } from 'slonik';
import { z } from 'zod';
import type { Take } from '../domain/rateLimits';
import type { DatabaseConnection } from './pool';

const TakeRow = z.object({ allowed: z.boolean(), tokens: z.number(), now: z.number() });

/**
 * Takes one token from the bucket `key` (PROTO 11.4.2) in one statement: refill by the time since
 * the last take, capped at `capacity`, then take one if there is one. The row lock of the upsert
 * serialises concurrent takes of one key across every API process; the clock is the database's
 * (`now()`, one value per statement), so processes with skewed clocks agree.
 */
export async function takeToken(db: DatabaseConnection, key: string, capacity: number, perSecond: number): Promise<Take> {
  const now = sql.fragment`extract(epoch FROM now())::float8`;
  const cap = sql.fragment`${capacity}::float8`;
  const rate = sql.fragment`${perSecond}::float8`;
  // In DO UPDATE, `b` is the row before this take.
  const refilled = sql.fragment`least(${cap}, b.tokens + greatest(0, ${now} - b.updated_at) * ${rate})`;
  const taken = sql.fragment`CASE WHEN ${refilled} >= 1 THEN 1 ELSE 0 END`;
  return db.one(sql.type(TakeRow)`
    INSERT INTO rate_buckets AS b (key, tokens, updated_at, full_at, allowed)
    VALUES (${key}, greatest(${cap} - 1, 0), ${now}, ${now} + least(${cap}, 1) / ${rate}, ${cap} >= 1)
    ON CONFLICT (key) DO UPDATE SET
      allowed = ${refilled} >= 1,
      tokens = ${refilled} - ${taken},
      updated_at = ${now},
      full_at = ${now} + (${cap} - ${refilled} + ${taken}) / ${rate}
    RETURNING b.allowed, b.tokens, ${now} AS now`);
}

/** Forgets buckets (an operator lifting a suspension starts its subject afresh). */
export async function dropBuckets(db: DatabaseConnection, keys: string[]): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM rate_buckets WHERE key = ANY(${sql.array(keys, 'text')})`);
}

/** A bucket full again is the same as no bucket: the sweeper deletes those. */
export async function purgeFullBuckets(db: DatabaseConnection): Promise<number> {
  const result = await db.query(sql.unsafe`DELETE FROM rate_buckets WHERE full_at < extract(epoch FROM now())`);
  return result.rowCount;
}

export const SuspensionRow = z.object({
  id: z.string(),
  subject: z.string(),
  user_id: z.string().nullable(),
  client_id: z.string().nullable(),
  address: z.string().nullable(),
  reason: z.string(),
  suspended_at: z.date(),
  suspended_until: z.date(),
  lifted_at: z.date().nullable(),
});
export type SuspensionRow = z.infer<typeof SuspensionRow>;

export interface NewSuspension {
  id: string;
  subject: string;
  userId: string | null;
  clientId: string | null;
  address: string | null;
  reason: string;
  forMs: number;
}

/**
 * Suspends a subject unless it already is (several processes may see the same violation): the
 * row of an ended or lifted suspension is reused. Returns the suspension in force.
 */
export async function suspend(db: DatabaseConnection, s: NewSuspension): Promise<SuspensionRow> {
  const until = sql.fragment`now() + ${s.forMs} * interval '1 millisecond'`;
  const written = await db.maybeOne(sql.type(SuspensionRow)`
    INSERT INTO rate_suspensions (id, subject, user_id, client_id, address, reason, suspended_until)
    VALUES (${s.id}, ${s.subject}, ${s.userId}, ${s.clientId}, ${s.address}, ${s.reason}, ${until})
    ON CONFLICT (subject) DO UPDATE SET
      id = excluded.id, reason = excluded.reason, suspended_at = now(), suspended_until = excluded.suspended_until, lifted_at = NULL
    WHERE rate_suspensions.lifted_at IS NOT NULL OR rate_suspensions.suspended_until <= now()
    RETURNING *`);
  return written ?? db.one(sql.type(SuspensionRow)`SELECT * FROM rate_suspensions WHERE subject = ${s.subject}`);
}

const ACTIVE = sql.fragment`lifted_at IS NULL AND suspended_until > now()`;

export async function activeSuspensions(db: DatabaseConnection): Promise<readonly SuspensionRow[]> {
  return db.any(sql.type(SuspensionRow)`SELECT * FROM rate_suspensions WHERE ${ACTIVE} ORDER BY suspended_at DESC`);
}

export async function activeSuspensionOf(db: DatabaseConnection, subject: string): Promise<SuspensionRow | null> {
  return db.maybeOne(sql.type(SuspensionRow)`SELECT * FROM rate_suspensions WHERE subject = ${subject} AND ${ACTIVE}`);
}

/** Lifts a suspension in force; null when there is none by that id. */
export async function liftSuspension(db: DatabaseConnection, id: string): Promise<SuspensionRow | null> {
  return db.maybeOne(sql.type(SuspensionRow)`
    UPDATE rate_suspensions SET lifted_at = now() WHERE id = ${id} AND ${ACTIVE} RETURNING *`);
}
