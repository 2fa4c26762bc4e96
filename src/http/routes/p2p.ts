import Router from '@koa/router';
import { z } from 'zod';
import { isId } from '../../domain/ids';
import { acceptTransfer, cancelTransfer, confirmTransfer, getTransfer, initiateTransfer, rejectTransfer, type P2PDeps } from '../../p2p/p2p';
import { invalidField } from '../../domain/errors';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { AcceptedTransfer, ConfirmedTransfer, InitiatedTransfer, RejectedTransfer, TransferAnswer } from '../responses/wallet';
import type { RateLimit } from '../middleware/rateLimit';
import { AuthProof, DeviceId, IdempotencyKey, MatrixUserId, RoomId, Timestamp, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const InitiateBody = withMoney({
  recipient: MatrixUserId,
  note: z.string().max(280).optional(),
  room_id: RoomId.optional(),
  idempotency_key: IdempotencyKey,
});

const ConfirmBody = z.object({ auth_proof: AuthProof }).strict();
// PROTO 7.2.7 shows device_id and timestamp on accept; they are accepted and not needed.
const AcceptBody = z.object({ device_id: DeviceId.optional(), timestamp: Timestamp.optional() }).strict();
const RejectBody = z.object({ reason: z.string().max(64).optional(), message: z.string().max(280).optional() }).strict();

const doc = {
  // 201 for a replay too: the stored first answer, with Idempotent-Replayed.
  initiate: documented({ summary: "Start a transfer to another user; it waits for the sender's proof", callers: ['mini-app'], body: InitiateBody, responses: { 201: InitiatedTransfer } }),
  confirm: documented({ summary: "The sender's proof: the money moves, or waits for the recipient to accept", callers: ['mini-app'], body: ConfirmBody, responses: { 200: ConfirmedTransfer } }),
  accept: documented({ summary: 'The recipient takes a transfer that waits for them', callers: ['mini-app'], body: AcceptBody, responses: { 200: AcceptedTransfer } }),
  reject: documented({ summary: 'The recipient refuses a transfer; the money goes back to the sender', callers: ['mini-app'], body: RejectBody, responses: { 200: RejectedTransfer } }),
  cancel: documented({ summary: 'The sender cancels a transfer they have not confirmed', callers: ['mini-app'], responses: { 200: TransferAnswer } }),
  get: documented({ summary: 'A transfer the caller sent or receives, as it stands', callers: ['mini-app'], responses: { 200: TransferAnswer } }),
};

function transferIdOf(ctx: AppContext): string {
  const id = ctx.params.transfer_id;
  if (!isId('transfer', id)) throw invalidField('transfer_id', 'must be a transfer id like p2p_...');
  return id;
}

/** PROTO 7.2 under .../wallet/p2p (both wallet prefixes): each state change is an Update of the transfer's saga. */
export function p2pRoutes(deps: P2PDeps, auth: CallerGates['tep'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/initiate', doc.initiate, auth('wallet:pay'), limit('p2p'), async (ctx) => {
    const body = parseInput(InitiateBody, ctx.request.body ?? {});
    const result = await initiateTransfer(deps, ctx.state.tep!.userId, {
      clientId: ctx.state.tep!.clientId,
      recipient: body.recipient,
      amount: body.amount,
      currency: body.currency,
      note: body.note,
      roomId: body.room_id,
      idempotencyKey: body.idempotency_key,
    });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = 201;
    ctx.body = result.body;
  });

  router.post('/:transfer_id/confirm', doc.confirm, auth('wallet:pay'), limit('default'), async (ctx) => {
    const id = transferIdOf(ctx);
    const body = parseInput(ConfirmBody, ctx.request.body ?? {});
    ctx.body = await confirmTransfer(deps, ctx.state.caller!, id, body.auth_proof);
  });

  router.post('/:transfer_id/accept', doc.accept, auth('wallet:pay'), limit('default'), async (ctx) => {
    const id = transferIdOf(ctx);
    parseInput(AcceptBody, ctx.request.body ?? {});
    ctx.body = await acceptTransfer(deps, ctx.state.tep!.userId, id);
  });

  router.post('/:transfer_id/reject', doc.reject, auth('wallet:pay'), limit('default'), async (ctx) => {
    const id = transferIdOf(ctx);
    const body = parseInput(RejectBody, ctx.request.body ?? {});
    ctx.body = await rejectTransfer(deps, ctx.state.tep!.userId, id, body);
  });

  router.post('/:transfer_id/cancel', doc.cancel, auth('wallet:pay'), limit('default'), async (ctx) => {
    const id = transferIdOf(ctx);
    ctx.body = await cancelTransfer(deps, ctx.state.caller!, id);
  });

  router.get('/:transfer_id', doc.get, auth('wallet:pay'), limit('default'), async (ctx) => {
    ctx.body = await getTransfer(deps, ctx.state.tep!.userId, transferIdOf(ctx));
  });

  return router;
}
