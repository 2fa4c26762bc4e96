import type { Middleware } from 'koa';
import type { AccessChecks } from '../../auth/clients';
import type { BucketStore } from '../../abuse/buckets';
import type { Config } from '../../config';
import { suspendSubject } from '../../abuse/suspensions';
import type { SuspensionRow } from '../../db/rateLimits';
import type { DatabasePool } from '../../db/pool';
import { DomainError } from '../../domain/errors';
import { bucketKey, bucketOf, describeWindow, quotaOf, violationsKey, type RateCategory } from '../../domain/rateLimits';
import { rateLimitRejections } from '../../metrics/metrics';
import { basicCredentials } from '../basicAuth';
import type { AppContext, AppState } from '../state';

export interface RateLimitDeps {
  pool: DatabasePool;
  store: BucketStore;
  settings: Config['rateLimits'];
  access: Pick<AccessChecks, 'suspension' | 'client'>;
}

/** Who a bucket counts: a user through one mini-app when authenticated, else an address through one client. */
interface Subject {
  key: string;
  userId: string | null;
  clientId: string | null;
  address: string | null;
}

/** The client an anonymous call names: `client_id` in its body, or the user of its Basic credentials. */
function namedClient(ctx: AppContext): string {
  const body: unknown = ctx.request.body;
  const fromBody = typeof body === 'object' && body !== null && 'client_id' in body ? body.client_id : undefined;
  if (typeof fromBody === 'string' && fromBody.length <= 128) return fromBody;
  // Malformed credentials name no client here; the route refuses them itself.
  const basic = basicCredentials(ctx);
  return basic && basic.clientId.length <= 128 ? basic.clientId : '-';
}

async function subjectOf(ctx: AppContext, access: Pick<AccessChecks, 'client'>): Promise<Subject> {
  const { caller, messengerUser } = ctx.state;
  if (caller) return { key: `user:${caller.userId}|client:${caller.clientId}`, userId: caller.userId, clientId: caller.clientId, address: null };
  if (messengerUser) return { key: `user:${messengerUser}|client:matrix`, userId: messengerUser, clientId: null, address: null };
  if (ctx.state.developer) return { key: `developer:${ctx.state.developer}`, userId: ctx.state.developer, clientId: null, address: null };
  // Only a registered, active client gets a bucket of its own: made-up client ids share one, so
  // an address cannot get fresh buckets by naming new clients.
  const named = namedClient(ctx);
  const clientId = named !== '-' && (await access.client(named)).active ? named : '-';
  return { key: `address:${ctx.ip}|client:${clientId}`, userId: null, clientId, address: ctx.ip };
}

function suspendedError(s: SuspensionRow): DomainError {
  return new DomainError(
    'ACCOUNT_SUSPENDED',
    'Account temporarily suspended due to abuse',
    { suspended_until: s.suspended_until.toISOString(), reason: s.reason },
    true,
  );
}

/**
 * PROTO 11.4: a route names its category with `limit(category)`, after its caller gate, so the
 * bucket is the caller's. A suspended caller is refused before any token is taken; a caller with
 * no token left gets 429 with Retry-After, and a violation is counted: the RATE_LIMIT_SUSPEND_AFTER-th
 * within RATE_LIMIT_SUSPEND_WINDOW suspends it for RATE_LIMIT_SUSPEND_FOR (11.4.5).
 */
export function rateLimiter(deps: RateLimitDeps) {
  const { settings } = deps;
  const violations = { capacity: settings.suspendAfter - 1, perSecond: settings.suspendAfter / (settings.suspendWindowMs / 1000) };

  async function countViolation(ctx: AppContext, subject: Subject, category: RateCategory): Promise<void> {
    const take = await deps.store.take(violationsKey(subject.key), violations.capacity, violations.perSecond);
    ctx.state.log.info({ rate_limit: category, subject: subject.key }, 'rate limit exceeded');
    if (take.allowed) return;
    const suspension = await suspendSubject(deps, {
      subject: subject.key,
      userId: subject.userId,
      clientId: subject.clientId,
      address: subject.address,
      reason: 'repeated_rate_limit_violations',
      forMs: settings.suspendForMs,
    });
    ctx.state.log.warn({ subject: subject.key, suspended_until: suspension.suspended_until }, 'caller suspended for repeated rate-limit violations');
  }

  const limited = (category: RateCategory | ((ctx: AppContext) => RateCategory)): Middleware<AppState> =>
    async (ctx, next) => {
      const name = typeof category === 'function' ? category(ctx) : category;
      const subject = await subjectOf(ctx, deps.access);
      const suspension = await deps.access.suspension(subject.key);
      if (suspension && suspension.suspended_until.getTime() > Date.now()) throw suspendedError(suspension);

      const limit = settings.limits[name];
      const { capacity, perSecond } = bucketOf(limit);
      const take = await deps.store.take(bucketKey(name, subject.key), capacity, perSecond);
      const quota = quotaOf(take, limit);
      ctx.set('X-RateLimit-Limit', String(limit.limit));
      ctx.set('X-RateLimit-Remaining', String(quota.remaining));
      ctx.set('X-RateLimit-Reset', String(Math.ceil(take.now + quota.resetAfter)));
      ctx.set('X-RateLimit-Reset-After', String(quota.resetAfter));
      ctx.set('X-RateLimit-Burst', String(limit.burst));
      if (!take.allowed) {
        ctx.set('Retry-After', String(quota.retryAfter));
        rateLimitRejections.inc({ category: name });
        await countViolation(ctx, subject, name);
        throw new DomainError(
          'RATE_LIMIT_EXCEEDED',
          'Too many requests',
          { retry_after: quota.retryAfter, limit: limit.limit, window: describeWindow(limit.windowMs), category: name },
          true,
        );
      }
      await next();
    };
  const off: Middleware<AppState> = (_ctx, next) => next();
  return settings.enabled ? limited : () => off;
}

export type RateLimit = ReturnType<typeof rateLimiter>;
