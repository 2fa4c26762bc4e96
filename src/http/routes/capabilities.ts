import Router from '@koa/router';
import type { Config } from '../../config';
import type { DatabasePool } from '../../db/pool';
import { capabilitiesFor } from '../../miniapps/capabilities';
import type { CallerGates } from '../middleware/auth';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import { CapabilitiesAnswer } from '../responses/capabilities';
import type { AppState } from '../state';

const doc = documented({
  summary: 'What the mini-app may use for this user: payments, storage, messaging, payment factors (PROTO 10.5)',
  callers: ['mini-app'],
  responses: { 200: CapabilitiesAnswer },
});

/** PROTO 10.5.2: any mini-app's TEP, whatever its scopes (the answer follows them). */
export function capabilityRoutes(deps: { pool: DatabasePool; config: Pick<Config, 'storage' | 'matrix'> }, auth: CallerGates['tep'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/api/v1/capabilities', doc, auth(), limit('default'), async (ctx) => {
    ctx.body = await capabilitiesFor(deps, ctx.state.tep!);
  });
  return router;
}
