import Router from '@koa/router';
import type { Config } from '../../config';
import { DomainError } from '../../domain/errors';
import { metricsText, METRICS_CONTENT_TYPE } from '../../metrics/cluster';
import { adminTokenCheck, bearerToken } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { Health, Jwks, NotReady, Ready } from '../responses/system';
import { sql } from 'slonik';
import type { TepKeys } from '../../auth/keys';
import type { DatabasePool } from '../../db/pool';
import type { Temporal } from '../../temporal/client';
import type { AppState } from '../state';

const doc = {
  health: documented({ summary: 'Liveness: the process serves (it touches nothing else)', callers: ['anyone'], responses: { 200: Health } }),
  // prom-client's text exposition format; METRICS_TOKEN, when set, is checked in the handler.
  metrics: documented({ summary: "Prometheus metrics of this process (or of every API process)", callers: ['anyone'], responses: { 200: { contentType: 'text/plain' } } }),
  ready: documented({ summary: 'Readiness: whether PostgreSQL and Temporal answer, each with its latency', callers: ['anyone'], responses: { 200: Ready, 503: NotReady } }),
  jwks: documented({ summary: 'The public keys TEP tokens are signed with', callers: ['anyone'], responses: { 200: Jwks } }),
};

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

  router.get('/health', doc.health, (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  // Prometheus (prom-client): this process's metrics, or every API process's with API_PROCESSES > 1.
  const metricsAllowed = adminTokenCheck(deps.config.metricsToken);
  router.get('/metrics', doc.metrics, async (ctx) => {
    if (deps.config.metricsToken !== undefined && !metricsAllowed(bearerToken(ctx))) throw new DomainError('INVALID_TOKEN', 'Missing or wrong METRICS_TOKEN');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = METRICS_CONTENT_TYPE;
    ctx.body = await metricsText();
  });

  router.get('/ready', doc.ready, async (ctx) => {
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

  router.get('/.well-known/jwks.json', doc.jwks, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = deps.keys.jwks;
  });

  return router;
}
