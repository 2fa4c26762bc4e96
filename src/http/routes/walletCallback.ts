import Router from '@koa/router';
import { z } from 'zod';
import { acceptWalletCallback, verifyProviderSignature, WALLET_EVENT_TYPES, type ProviderCallbackDeps } from '../../wallet/providerCallbacks';
import { MatrixUserId, RoomId, Timestamp, withMoney } from '../schemas';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import { WalletCallbackAnswer } from '../responses/payments';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const CallbackBody = withMoney({
  event: z.enum(Object.keys(WALLET_EVENT_TYPES) as [keyof typeof WALLET_EVENT_TYPES, ...(keyof typeof WALLET_EVENT_TYPES)[]]),
  transaction_id: z.string().min(1).max(128),
  sender: z.object({ user_id: MatrixUserId, wallet_id: z.string().max(128).optional() }).strict(),
  recipient: z
    .object({ user_id: MatrixUserId.optional(), wallet_id: z.string().max(128).optional(), miniapp_id: z.string().max(128).optional(), name: z.string().max(200).optional() })
    .strict(),
  room_id: RoomId,
  note: z.string().max(280).optional(),
  timestamp: Timestamp,
  // PROTO's field form: the HMAC of the rest of the body in canonical JSON (or sign the raw body in a header).
  signature: z.string().max(1024).optional(),
});

const doc = documented({
  summary: "A trusted wallet provider reports a payment; its room event is sent once per transaction_id",
  callers: ['provider'],
  body: CallbackBody,
  responses: { 200: WalletCallbackAnswer },
});

/**
 * PROTO 4.11.7-4.11.8: a trusted wallet provider reports a payment, signed with the HMAC-SHA256 of
 * its webhook secret: `X-Webhook-Signature: sha256=<hex>` or `Authorization: HMAC-SHA256 <sig>`
 * over the raw body, or the body's `signature` over the rest of it (canonical JSON).
 * `X-Wallet-Provider` names the provider (a client id in WALLET_PROVIDERS), or each trusted one is
 * tried. Verified before the body is read as input.
 */
export function walletCallbackRoutes(deps: ProviderCallbackDeps, limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/wallet' });
  router.post('/callback', doc, limit('default'), async (ctx) => {
    const raw = typeof ctx.request.rawBody === 'string' ? ctx.request.rawBody : '';
    const provider = await verifyProviderSignature(deps, {
      providerId: ctx.get('x-wallet-provider') || undefined,
      header: ctx.get('x-webhook-signature') || undefined,
      authorization: ctx.get('authorization') || undefined,
      rawBody: raw,
      body: ctx.request.body,
    });
    const body = parseInput(CallbackBody, ctx.request.body ?? {});
    ctx.body = await acceptWalletCallback(deps, provider, {
      event: body.event,
      transactionId: body.transaction_id,
      amount: body.amount,
      currency: body.currency,
      sender: body.sender,
      recipient: body.recipient,
      roomId: body.room_id,
      note: body.note,
      timestamp: body.timestamp,
    });
  });
  return router;
}
