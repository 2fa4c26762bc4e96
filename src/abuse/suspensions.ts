import { activeSuspensions, liftSuspension, suspend, type NewSuspension, type SuspensionRow } from '../db/rateLimits';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import { isId } from '../domain/ids';
import { violationsKey } from '../domain/rateLimits';
import { newId } from '../ids';
import type { BucketStore } from './buckets';

/** Suspensions for repeated rate-limit violations (PROTO 11.4.5): made by the limiter, seen and lifted by operators. */
export interface SuspensionDeps {
  pool: DatabasePool;
  buckets: BucketStore;
}

export function suspensionView(s: SuspensionRow) {
  return {
    suspension_id: s.id,
    user_id: s.user_id,
    client_id: s.client_id,
    address: s.address,
    reason: s.reason,
    suspended_at: s.suspended_at.toISOString(),
    suspended_until: s.suspended_until.toISOString(),
    lifted_at: s.lifted_at?.toISOString() ?? null,
  };
}

/** Suspends a subject (or answers the suspension already in force). */
export function suspendSubject(deps: Pick<SuspensionDeps, 'pool'>, s: Omit<NewSuspension, 'id'>): Promise<SuspensionRow> {
  return suspend(deps.pool, { id: newId('suspension'), ...s });
}

export async function listSuspensions(deps: Pick<SuspensionDeps, 'pool'>) {
  return { suspensions: (await activeSuspensions(deps.pool)).map(suspensionView) };
}

/** Lifts a suspension in force, and forgives the violations that led to it (the next one does not suspend again at once). */
export async function liftSuspensionById(deps: SuspensionDeps, id: string) {
  const lifted = isId('suspension', id) ? await liftSuspension(deps.pool, id) : null;
  if (!lifted) throw new DomainError('NOT_FOUND', 'No suspension in force by that id', { suspension_id: id });
  await deps.buckets.drop([violationsKey(lifted.subject)]);
  return { subject: lifted.subject, view: suspensionView(lifted) };
}
