import type { Middleware } from 'koa';
import { httpDuration, httpRequests } from '../../metrics/metrics';
import { nameRequestSpan } from '../../telemetry/tracing';
import type { AppState } from '../state';

/**
 * Counts every answer by method, route template (`/api/v1/wallet/p2p/:transfer_id/confirm`, never
 * the id itself) and status, after the error handler has set it.
 */
export function httpMetrics(): Middleware<AppState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const matched = ctx._matchedRoute;
      const route = typeof matched === 'string' ? matched : ctx.path.startsWith('/_matrix/') ? '/_matrix/*' : 'unmatched';
      const labels = { method: ctx.method, route, status: String(ctx.status) };
      nameRequestSpan(ctx.method, route);
      httpRequests.inc(labels);
      httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}
