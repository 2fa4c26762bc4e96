import Router from '@koa/router';
import { sql } from 'slonik';
import type { TepKeys } from '../../auth/keys';
import type { DatabasePool } from '../../db/pool';
import type { Temporal } from '../../temporal/client';
import type { AppState } from '../state';

async function timed(check: () => Promise<unknown>): Promise<{ reachable: boolean; latency_ms: number }> {
  const started = performance.now();
  let reachable = true;
  try {
    await check();
  } catch {
    reachable = false;
  }
  return { reachable, latency_ms: Math.round(performance.now() - started) };
}

/** Health (always 200 while the API serves; the body says what it can reach) and the TEP public keys. */
export function systemRoutes(deps: { pool: DatabasePool; temporal: Temporal; keys: TepKeys }): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/health', async (ctx) => {
    const [postgres, temporal] = await Promise.all([
      timed(() => deps.pool.query(sql.unsafe`SELECT 1`)),
      timed(async () => {
        if (!(await deps.temporal.isReachable())) throw new Error('unreachable');
      }),
    ]);
    ctx.body = { status: postgres.reachable && temporal.reachable ? 'ok' : 'degraded', postgres, temporal };
  });

  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = deps.keys.jwks;
  });

  return router;
}
