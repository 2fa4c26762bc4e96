import Router from '@koa/router';
import { z } from 'zod';
import { DomainError } from '../../domain/errors';
import { createRoomForUser, inviteForUser, sendForUser, SENDABLE_MSGTYPES, type AppActionDeps } from '../../matrix/appActions';
import type { CallerGates } from '../middleware/auth';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import { AppInvited, AppMessageSent, AppRoomCreated } from '../responses/matrixActions';
import { MatrixUserId, RoomId } from '../schemas';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const MAX_CONTENT_BYTES = 16 * 1024;

/**
 * An m.room.message's content, its keys listed: every user of an app posts through the same bot, so
 * an edit (`m.replace`, `m.new_content`) would let one rewrite another's message; only a reply may
 * relate to another event.
 */
const MessageBody = z
  .object({
    msgtype: z.enum(SENDABLE_MSGTYPES),
    body: z.string().min(1).max(4000),
    format: z.literal('org.matrix.custom.html').optional(),
    formatted_body: z.string().max(8000).optional(),
    card: z.record(z.unknown()).optional().describe("PROTO 8.1.3's card, with msgtype m.tween.card"),
    'm.relates_to': z.object({ 'm.in_reply_to': z.object({ event_id: z.string().min(1).max(255) }).strict() }).strict().optional(),
  })
  .strict()
  .refine((content) => Buffer.byteLength(JSON.stringify(content)) <= MAX_CONTENT_BYTES, `must be at most ${MAX_CONTENT_BYTES} bytes of JSON`);
const SendParams = z.object({ room_id: RoomId, txn_id: z.string().regex(/^[A-Za-z0-9._~-]{1,64}$/, 'must be 1 to 64 letters, digits or ._~-') });
const RoomParams = z.object({ room_id: RoomId });
const CreateBody = z.object({ name: z.string().trim().min(1).max(100), topic: z.string().max(500).optional(), invite: z.array(MatrixUserId).max(10).default([]) }).strict();
const InviteBody = z.object({ user_id: MatrixUserId }).strict();

const doc = {
  send: documented({ summary: "A message from the mini-app's bot, for its user, into a room both are in (messaging:send; PROTO 4.16)", callers: ['mini-app'], params: SendParams, body: MessageBody, responses: { 200: AppMessageSent } }),
  create: documented({ summary: "A private room the mini-app's bot creates for its user (room:create; others invited need room:invite)", callers: ['mini-app'], body: CreateBody, responses: { 201: AppRoomCreated } }),
  invite: documented({ summary: "The mini-app's bot invites someone into a room it and its user are in (room:invite)", callers: ['mini-app'], params: RoomParams, body: InviteBody, responses: { 200: AppInvited } }),
};

/** PROTO 4.16 as the app's bot (src/matrix/appActions.ts says why not as the user). */
export function matrixActionRoutes(deps: AppActionDeps, auth: CallerGates['tep'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/matrix' });

  router.put('/rooms/:room_id/send/:txn_id', doc.send, auth('messaging:send'), limit('default'), async (ctx) => {
    const params = parseInput(SendParams, ctx.params);
    const content = parseInput(MessageBody, ctx.request.body ?? {});
    ctx.body = await sendForUser(deps, ctx.state.caller!, { roomId: params.room_id, txnId: params.txn_id, content });
  });

  router.post('/rooms', doc.create, auth('room:create'), limit('default'), async (ctx) => {
    const body = parseInput(CreateBody, ctx.request.body ?? {});
    if (body.invite.length > 0 && !ctx.state.tep!.scopes.has('room:invite')) {
      throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Inviting others needs the room:invite scope', { field: 'invite', required_scope: 'room:invite' });
    }
    ctx.status = 201;
    ctx.body = await createRoomForUser(deps, ctx.state.caller!, { name: body.name, ...(body.topic ? { topic: body.topic } : {}), invite: body.invite });
  });

  router.post('/rooms/:room_id/invite', doc.invite, auth('room:invite'), limit('default'), async (ctx) => {
    const params = parseInput(RoomParams, ctx.params);
    const body = parseInput(InviteBody, ctx.request.body ?? {});
    ctx.body = await inviteForUser(deps, ctx.state.caller!, { roomId: params.room_id, userId: body.user_id });
  });

  return router;
}
