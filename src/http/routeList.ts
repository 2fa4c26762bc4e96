import type Router from '@koa/router';
import type Koa from 'koa';
import type { AppState } from './state';

/**
 * Every route the app serves, as `METHOD /path` (path templates as mounted; HEAD, which Koa
 * answers for every GET, left out). docs/security.md has a row for each, and a test holds them equal.
 */
export function mountedRoutes(app: Koa<AppState>): string[] {
  const routes = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router<AppState> }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods) if (method !== 'HEAD') routes.add(`${method} ${layer.path}`);
    }
  }
  return [...routes];
}
