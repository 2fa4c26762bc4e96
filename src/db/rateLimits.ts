import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

const GrantRow = z.object({ key: z.string(), granted: z.number(), tokens: z.number(), now: z.number() });

export interface TokenRequest {
  key: string;
  /** Tokens asked for (one per request waiting). */
  count: number;
  capacity: number;
  perSecond: number;
}

export interface Grant {
  granted: number;
  /** Tokens left after the grant. */
  tokens: number;
  /** The database's clock, epoch seconds. */
  now: number;
}

/**
 * Takes tokens from many buckets in one statement (PROTO 11.4.2): each bucket is refilled by the
 * time since its last take, capped at its capacity, then gives as many whole tokens as asked for
 * and it has. The row locks of the upsert serialise takes of one key across every API process, in
 * key order (so two processes' statements cannot deadlock); the clock is the database's (`now()`,
 * one value per statement), so processes with skewed clocks agree. Keys must be distinct.
 */
export async function takeTokens(db: DatabaseConnection, requests: readonly TokenRequest[]): Promise<Map<string, Grant>> {
  const refilled = sql.fragment`least(EXCLUDED.capacity, b.tokens + greatest(0, EXCLUDED.updated_at - b.updated_at) * EXCLUDED.rate)`;
  const granted = sql.fragment`least(EXCLUDED.requested, floor(${refilled}))`;
  const rows = await db.any(sql.type(GrantRow)`
    INSERT INTO rate_buckets AS b (key, capacity, rate, requested, granted, tokens, updated_at, full_at)
    SELECT i.key, i.capacity, i.rate, i.requested, least(i.requested, floor(i.capacity)), i.capacity - least(i.requested, floor(i.capacity)),
           c.now, c.now + least(i.requested, floor(i.capacity)) / i.rate
    FROM ${sql.unnest(
      requests.map((r) => [r.key, r.count, r.capacity, r.perSecond]),
      ['text', 'int4', 'float8', 'float8'],
    )} AS i(key, requested, capacity, rate),
         (SELECT extract(epoch FROM now())::float8 AS now) AS c
    ORDER BY i.key
    ON CONFLICT (key) DO UPDATE SET
      capacity = EXCLUDED.capacity,
      rate = EXCLUDED.rate,
      requested = EXCLUDED.requested,
      granted = ${granted},
      tokens = ${refilled} - ${granted},
      updated_at = EXCLUDED.updated_at,
      full_at = EXCLUDED.updated_at + (EXCLUDED.capacity - ${refilled} + ${granted}) / EXCLUDED.rate
    RETURNING b.key, b.granted, b.tokens, b.updated_at AS now`);
  return new Map(rows.map((r) => [r.key, { granted: r.granted, tokens: r.tokens, now: r.now }]));
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
