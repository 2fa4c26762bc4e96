import Router from '@koa/router';
import { z } from 'zod';
import { approveScopes, listConsents, type ConsentDeps } from '../../oauth/consent';
import type { messengerAuth } from '../middleware/auth';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const ConsentBody = z
  .object({
    client_id: z.string().min(1).max(128),
    scopes: z.array(z.string().min(1).max(200)).min(1).max(50),
  })
  .strict();

/** OAuth for mini-apps (PROTO 4.3, 5): the user's consents, given from the messenger. */
export function oauthRoutes(deps: ConsentDeps, messenger: ReturnType<typeof messengerAuth>): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/oauth' });

  router.post('/consent', messenger('user:read'), async (ctx) => {
    const body = parseInput(ConsentBody, ctx.request.body ?? {});
    const userId = ctx.state.messengerUser!;
    const approved = await approveScopes(deps, userId, body.client_id, body.scopes);
    ctx.state.log.info({ client_id: body.client_id, scopes: body.scopes }, 'scopes approved by the user');
    ctx.body = approved;
  });

  router.get('/consent', messenger('user:read'), async (ctx) => {
    ctx.body = await listConsents(deps, ctx.state.messengerUser!);
  });

  return router;
}
