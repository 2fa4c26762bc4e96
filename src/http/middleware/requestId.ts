import type { Middleware } from 'koa';
import { newId } from '../../ids';
import type { Logger } from '../../logger';
import type { AppState } from '../state';

const ACCEPTABLE = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * Every request gets an id (the caller's X-Request-Id when it is sane, else a new one), echoed in
 * the response header and in every error body, and a child logger that carries it.
 */
export function requestId(log: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const offered = ctx.get('x-request-id');
    const id = ACCEPTABLE.test(offered) ? offered : newId('request');
    ctx.state.requestId = id;
    ctx.state.log = log.child({ request_id: id });
    ctx.set('X-Request-Id', id);
    await next();
  };
}

/** Probes poll these all day; their lines would drown the rest, so they log at debug unless they fail. */
const PROBES = new Set(['/health', '/ready']);

/** A storage key in a path is the mini-app's data: it is never logged (PROTO 10.3.8). */
function loggedPath(path: string): string {
  return /^\/api\/v1\/storage\/(?!info$|batch(\/get|\/set)?$)./.test(path) ? '/api/v1/storage/:key' : path;
}

/** One line per request: method, path without the query (it may carry tokens), status, duration. */
export function accessLog(): Middleware<AppState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const level = PROBES.has(ctx.path) && ctx.status < 400 ? 'debug' : 'info';
      ctx.state.log[level]({ method: ctx.method, path: loggedPath(ctx.path), status: ctx.status, duration_ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}
