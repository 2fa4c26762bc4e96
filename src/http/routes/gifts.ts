import Router from '@koa/router';
import { z } from 'zod';
import { invalidField } from '../../domain/errors';
import { isId } from '../../domain/ids';
import { parseAmount, parseCurrency } from '../../domain/money';
import { createGift, getGift, openGiftFor, type GiftDeps } from '../../gifts/gifts';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { GiftAnswer, GiftCreated, GiftOpened } from '../responses/gifts';
import type { RateLimit } from '../middleware/rateLimit';
import { AuthProof, DeviceId, IdempotencyKey, MatrixUserId, RoomId, WholeNumber } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const Amount = z.union([z.number(), z.string()]);
const common = {
  room_id: RoomId,
  currency: z.string(),
  message: z.string().max(280).optional(),
  expires_in_seconds: WholeNumber(60, 365 * 86_400).optional(),
  idempotency_key: IdempotencyKey,
  auth_proof: AuthProof,
};

const CreateBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('individual'), recipient: MatrixUserId, amount: Amount, ...common }).strict(),
  z
    .object({
      type: z.literal('group'),
      total_amount: Amount,
      count: WholeNumber(1, 10_000),
      distribution: z.enum(['random', 'equal']).default('random'),
      ...common,
    })
    .strict(),
]);

// PROTO 7.5.3 shows a device_id on open; it is accepted and not needed.
const OpenBody = z.object({ device_id: DeviceId.optional() }).strict();

const doc = {
  // 201 for a replay too: the stored first answer, with Idempotent-Replayed.
  create: documented({ summary: 'Send a gift into a room, for one member or shared among several; the proof and the escrow in one step', callers: ['mini-app'], body: CreateBody, responses: { 201: GiftCreated } }),
  open: documented({ summary: 'A member of the room opens the gift and receives their share', callers: ['mini-app'], body: OpenBody, responses: { 200: GiftOpened } }),
  get: documented({ summary: "A gift's state, openings and leaderboard, to members of its room", callers: ['mini-app'], responses: { 200: GiftAnswer } }),
};

function giftIdOf(ctx: AppContext): string {
  const id = ctx.params.gift_id;
  if (!isId('gift', id)) throw invalidField('gift_id', 'must be a gift id like gift_...');
  return id;
}

/** Group gifts (PROTO 7.5): each gift is the workflow `gift-<id>`. */
export function giftRoutes(deps: GiftDeps, auth: CallerGates['tep'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/create', doc.create, auth('wallet:pay'), limit('p2p'), async (ctx) => {
    const body = parseInput(CreateBody, ctx.request.body ?? {});
    const currency = parseCurrency(body.currency);
    const expires = body.expires_in_seconds ?? 86_400;
    if (expires > deps.config.gifts.maxExpiresSeconds) throw invalidField('expires_in_seconds', `must be at most ${deps.config.gifts.maxExpiresSeconds}`);
    const group = body.type === 'group';
    const result = await createGift(deps, ctx.state.tep!.userId, {
      clientId: ctx.state.tep!.clientId,
      type: body.type,
      recipient: group ? undefined : body.recipient,
      roomId: body.room_id,
      total: group ? parseAmount(body.total_amount, currency, 'total_amount') : parseAmount(body.amount, currency, 'amount'),
      currency,
      count: group ? body.count : 1,
      distribution: group ? body.distribution : 'equal',
      message: body.message,
      expiresInSeconds: expires,
      idempotencyKey: body.idempotency_key,
      authProof: body.auth_proof,
    });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = 201;
    ctx.body = result.body;
  });

  router.post('/:gift_id/open', doc.open, auth('wallet:balance'), limit('default'), async (ctx) => {
    const id = giftIdOf(ctx);
    parseInput(OpenBody, ctx.request.body ?? {});
    ctx.body = await openGiftFor(deps, ctx.state.tep!.userId, id);
  });

  router.get('/:gift_id', doc.get, auth('wallet:balance'), limit('default'), async (ctx) => {
    ctx.body = await getGift(deps, ctx.state.tep!.userId, giftIdOf(ctx));
  });

  return router;
}
