import type Koa from 'koa';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../../config/parsers';
import type { AppState } from '../state';

/**
 * Behind a TLS-terminating proxy the socket's peer is the proxy: with TRUST_PROXY, the client's
 * address comes from X-Forwarded-For and the scheme from X-Forwarded-Proto, but only as far as the
 * trusted proxies vouch for them. A request whose peer is not a trusted proxy has its forwarding
 * headers dropped, so nobody can claim another address (and escape a per-address limit) or claim
 * https. Without TRUST_PROXY the headers are ignored (Koa's proxy: false).
 */
export function trustProxies(app: Koa<AppState>, trust: TrustProxy): void {
  if (!trust) return;
  const trusted = 'hops' in trust ? (_addr: string, i: number) => i < trust.hops : proxyaddr.compile(trust.addresses);
  app.proxy = true;
  app.use(async (ctx, next) => {
    if (trusted(ctx.req.socket.remoteAddress ?? '', 0)) {
      ctx.request.ip = proxyaddr(ctx.req, trusted);
    } else {
      for (const header of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']) delete ctx.req.headers[header];
    }
    await next();
  });
}
