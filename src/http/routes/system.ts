import Router from '@koa/router';
import type { Config } from '../../config';
import { DomainError } from '../../domain/errors';
import { metricsText, METRICS_CONTENT_TYPE } from '../../metrics/cluster';
import { adminTokenCheck, bearerToken } from '../middleware/auth';
import { sql } from 'slonik';
import type { TepKeys } from '../../auth/keys';
import type { DatabasePool } from '../../db/pool';
import type { Temporal } from '../../temporal/client';
import type { AppState } from '../state';

/** How long one readiness check answers every /ready call: probes and load balancers poll often. */
export const READY_CACHE_MS = 1000;

interface Dependency {
  reachable: boolean;
  latency_ms: number;
}

interface Readiness {
  ready: boolean;
  postgres: Dependency;
  temporal: Dependency;
  checked_at: string;
}

async function timed(check: () => Promise<unknown>): Promise<Dependency> {
  const started = performance.now();
  let reachable = true;
  try {
    await check();
  } catch {
    reachable = false;
  }
  return { reachable, latency_ms: Math.round(performance.now() - started) };
}

/**
 * Checks PostgreSQL and Temporal at most once per READY_CACHE_MS; callers in between (and callers
 * while a check runs) share its result, so a flood of probes costs the dependencies nothing.
 */
function cachedReadiness(deps: { pool: DatabasePool; temporal: Temporal }, now: () => number = Date.now): () => Promise<Readiness> {
  let last: { at: number; result: Promise<Readiness> } | undefined;
  const check = async (): Promise<Readiness> => {
    const [postgres, temporal] = await Promise.all([
      timed(() => deps.pool.query(sql.unsafe`SELECT 1`)),
      timed(async () => {
        if (!(await deps.temporal.isReachable())) throw new Error('unreachable');
      }),
    ]);
    return { ready: postgres.reachable && temporal.reachable, postgres, temporal, checked_at: new Date().toISOString() };
  };
  return () => {
    if (!last || now() - last.at >= READY_CACHE_MS) last = { at: now(), result: check() };
    return last.result;
  };
}

/**
 * Liveness (`/health`: the process serves; it touches nothing else), readiness (`/ready`: 200 when
 * PostgreSQL and Temporal answer, 503 when not, each with its latency) and the TEP public keys.
 */
export function systemRoutes(deps: { pool: DatabasePool; temporal: Temporal; keys: TepKeys; config: Pick<Config, 'metricsToken'>; draining?: () => boolean }): Router<AppState> {
  const router = new Router<AppState>();
  const readiness = cachedReadiness(deps);

  router.get('/health', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  // Prometheus (prom-client): this process's metrics, or every API process's with API_PROCESSES > 1.
  const metricsAllowed = adminTokenCheck(deps.config.metricsToken);
  router.get('/metrics', async (ctx) => {
    if (deps.config.metricsToken !== undefined && !metricsAllowed(bearerToken(ctx))) throw new DomainError('INVALID_TOKEN', 'Missing or wrong METRICS_TOKEN');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = METRICS_CONTENT_TYPE;
    ctx.body = await metricsText();
  });

  router.get('/ready', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // Stopping: still serving what comes, but a load balancer should send no more.
    if (deps.draining?.()) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const { ready, ...checks } = await readiness();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : 'unavailable', ...checks };
  });

  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = deps.keys.jwks;
  });

  return router;
}
