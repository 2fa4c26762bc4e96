import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { TepKeys } from '../../auth/keys';
import { verifyTep } from '../../auth/tep';
import { DomainError } from '../../domain/errors';
import type { Scope } from '../../domain/scopes';
import type { AppState } from '../state';

function bearer(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * TEP authentication plus the endpoint's scope (PROTO 4.12, 5.2): no token 401, a bad or expired
 * one 401 INVALID_TOKEN, a token without the scope 403 INSUFFICIENT_PERMISSIONS.
 */
export function tepAuth(keys: TepKeys, issuer: string) {
  return (scope: Scope): Middleware<AppState> =>
    async (ctx, next) => {
      const token = bearer(ctx.get('authorization'));
      if (!token) throw new DomainError('INVALID_TOKEN', 'Missing TEP token');
      const tep = await verifyTep(keys, token, { issuer });
      if (!tep.scopes.has(scope)) {
        throw new DomainError('INSUFFICIENT_PERMISSIONS', `Missing required scope ${scope}`, { required_scope: scope });
      }
      ctx.state.tep = tep;
      await next();
    };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Operator endpoints: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function adminAuth(adminToken: string | undefined): Middleware<AppState> {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return async (ctx, next) => {
    const token = bearer(ctx.get('authorization'));
    if (!token) throw new DomainError('INVALID_TOKEN', 'Missing admin token');
    if (!expected || !timingSafeEqual(digest(token), expected)) throw new DomainError('INVALID_TOKEN', 'Invalid admin token');
    await next();
  };
}
