import Router from '@koa/router';
import { z } from 'zod';
import { acceptProviderCallback, getTopUp, requestTopUp, type TopUpDeps } from '../../topups/topups';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { TopUpAnswer } from '../responses/moneyEdge';
import type { RateLimit } from '../middleware/rateLimit';
import { IdempotencyKey, RoomId, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const TopUpBody = withMoney({ idempotency_key: IdempotencyKey, room_id: RoomId.optional() });

const doc = {
  topUp: documented({ summary: 'Top up the wallet through the provider; answers where to pay', callers: ['mini-app', 'matrix'], body: TopUpBody, responses: { 200: TopUpAnswer, 201: TopUpAnswer } }),
  topUpById: documented({ summary: "One of the caller's top-ups", callers: ['mini-app', 'matrix'], responses: { 200: TopUpAnswer } }),
  callback: documented({
    summary: "A provider's signed event about a top-up or a payout",
    callers: ['provider'],
    body: z.record(z.unknown()),
    responses: { 200: z.object({ received: z.literal(true), duplicate: z.literal(true).optional() }) },
  }),
};

/** The caller: the TEP's user and mini-app, or the Matrix session's user (the messenger). */
const callerOf = (ctx: AppContext) => (ctx.state.caller ? { userId: ctx.state.caller.userId, via: ctx.state.caller } : { userId: ctx.state.messengerUser! });

/** Money in (PROTO 6.6): top-ups, and the callbacks of the providers that take the payments. */
export function topUpRoutes(deps: TopUpDeps, auth: CallerGates['tepOrMatrix'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/topup', doc.topUp, auth('wallet:pay'), limit('payment_initiation'), async (ctx) => {
    const body = parseInput(TopUpBody, ctx.request.body ?? {});
    const result = await requestTopUp(deps, callerOf(ctx), {
      amount: body.amount,
      currency: body.currency,
      idempotencyKey: body.idempotency_key,
      ...(body.room_id !== undefined ? { roomId: body.room_id } : {}),
    });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = result.replayed ? 200 : 201;
    ctx.body = result.body;
  });

  router.get('/topup/:topup_id', doc.topUpById, auth('wallet:pay'), limit('default'), async (ctx) => {
    ctx.body = await getTopUp(deps, callerOf(ctx), ctx.params.topup_id!);
  });

  // The provider signs the exact bytes: the raw body is what is verified.
  router.post('/providers/:provider/callback', doc.callback, limit('default'), async (ctx) => {
    const raw = typeof ctx.request.rawBody === 'string' ? ctx.request.rawBody : '';
    const headers = Object.fromEntries(Object.entries(ctx.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
    ctx.body = await acceptProviderCallback(deps, ctx.params.provider!, raw, headers);
  });

  return router;
}
