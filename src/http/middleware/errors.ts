import type { Middleware } from 'koa';
import { DomainError, type ErrorCode } from '../../domain/errors';
import type { AppContext, AppState } from '../state';

/** PROTO 12.1 error body. */
export function errorBody(ctx: AppContext, code: ErrorCode, message: string, details?: Record<string, unknown>, inline = false) {
  return {
    error: {
      code,
      message,
      ...(inline ? details : {}),
      ...(details ? { details } : {}),
      timestamp: new Date().toISOString(),
      request_id: ctx.state.requestId,
    },
  };
}

/** Errors thrown by Koa helpers (ctx.throw, body parser) carry an HTTP status and are safe to expose when < 500. */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' && 'expose' in err && err.expose === true) {
    return err.status;
  }
  return undefined;
}

/** Turns any error into the PROTO 12.1 body. Unknown errors are logged and answered as a generic 500. */
export function protoErrors(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody(ctx, 'NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof DomainError) {
        ctx.status = err.status;
        ctx.body = errorBody(ctx, err.code, err.message, err.details, err.inline);
        if (err.code === 'INVALID_TOKEN') ctx.set('WWW-Authenticate', 'Bearer');
        const retryAfter = err.details?.retry_after_seconds;
        if (typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
        return;
      }
      const status = httpStatusOf(err);
      if (status !== undefined && status < 500) {
        ctx.status = status;
        const code: ErrorCode = status === 405 ? 'METHOD_NOT_ALLOWED' : status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST';
        ctx.body = errorBody(ctx, code, (err as Error).message);
        return;
      }
      ctx.state.log.error({ err }, 'unhandled error');
      ctx.status = 500;
      ctx.body = errorBody(ctx, 'INTERNAL_ERROR', 'Internal server error');
    }
  };
}
