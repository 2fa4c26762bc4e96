import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { ServiceError } from '@temporalio/client';
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError } from 'slonik';
import { NETWORK_ERRORS } from '../../db/unreachable';
import { DomainError, type ErrorCode } from '../../domain/errors';
import type { AppContext, AppState } from '../state';

const RETRY_AFTER_SECONDS = 5;

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

const GRPC_UNAVAILABLE = new Set([4, 8, 14]);

/**
 * PostgreSQL or Temporal could not be reached (refused, reset, timed out): the request may succeed
 * when retried, so it is a 503 with Retry-After, not a 500.
 */
function serviceUnreachable(err: unknown): boolean {
  if (err instanceof ConnectionError || err instanceof BackendTerminatedError || err instanceof BackendTerminatedUnexpectedlyError) return true;
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (typeof code === 'string' && NETWORK_ERRORS.has(code)) return true;
  // A gRPC call to Temporal that could not be made or timed out (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED).
  if (err instanceof ServiceError) {
    const grpcCode: unknown = (err.cause as { code?: unknown } | undefined)?.code;
    return typeof grpcCode === 'number' && GRPC_UNAVAILABLE.has(grpcCode);
  }
  const cause = err instanceof Error ? err.cause : undefined;
  return cause !== undefined && cause !== err && serviceUnreachable(cause);
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
      if (serviceUnreachable(err)) {
        ctx.state.log.warn({ err }, 'a service this request needs is unreachable');
        ctx.status = 503;
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        ctx.body = errorBody(ctx, 'SERVICE_UNAVAILABLE', 'A service this request needs is unavailable; retry shortly', { retry_after_seconds: RETRY_AFTER_SECONDS });
        return;
      }
      ctx.state.log.error({ err }, 'unhandled error');
      ctx.status = 500;
      ctx.body = errorBody(ctx, 'INTERNAL_ERROR', 'Internal server error');
    }
  };
}

/**
 * Requests Node's HTTP parser refuses before Koa sees them (headers over its 16 kB, a malformed
 * request line) are answered in PROTO's error format too, rather than as a bare status line.
 */
export function answerUnparsableRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const [status, reason] = tooLarge ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({
      error: {
        code: 'INVALID_REQUEST',
        message: tooLarge ? 'The request line and headers are larger than the server accepts' : 'The request is not well-formed HTTP',
        details: { field: tooLarge ? 'headers' : 'request' },
        timestamp: new Date().toISOString(),
      },
    });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
}
