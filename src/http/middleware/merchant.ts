import type { Middleware } from 'koa';
import type { OAuthClient } from '../../db/miniapps';
import type { DatabasePool } from '../../db/pool';
import { DomainError } from '../../domain/errors';
import { authenticateClient } from '../../oauth/sessions';
import { basicCredentials } from '../basicAuth';
import type { AppContext, AppState } from '../state';

/**
 * A merchant backend's confidential client from `Authorization: Basic` (PROTO 9.1.2): the mini-app
 * itself when it is confidential, or its `<client_id>_backend` twin. Undefined when the request has
 * no Basic credentials; 401 when they do not authenticate a confidential client.
 */
export async function confidentialClientOf(ctx: AppContext, pool: DatabasePool): Promise<OAuthClient | undefined> {
  const basic = basicCredentials(ctx);
  if (basic === undefined) return undefined;
  const client = basic && (await authenticateClient({ pool }, { basic }).catch(() => null));
  if (!client || client.secret_hash === null) throw merchantUnauthorized(ctx, 'Client authentication failed');
  return client;
}

export function merchantUnauthorized(ctx: AppContext, message: string): DomainError {
  ctx.set('WWW-Authenticate', 'Basic realm="tmcp"');
  return new DomainError('INVALID_TOKEN', message);
}

/** The mini-app whose merchant account a confidential client acts for. */
export const merchantOf = (client: OAuthClient): string => client.backend_of ?? client.client_id;

/** The gate of merchant routes: a confidential client; sets `merchant` (the mini-app's client id). */
export function merchantGate(pool: DatabasePool): Middleware<AppState> {
  return async (ctx, next) => {
    const client = await confidentialClientOf(ctx, pool);
    if (!client) throw merchantUnauthorized(ctx, "The merchant backend's client credentials are needed");
    ctx.state.merchant = merchantOf(client);
    await next();
  };
}
