import Router from '@koa/router';
import { z } from 'zod';
import { DomainError } from '../../domain/errors';
import { isId } from '../../domain/ids';
import { historyView, transactionReceipt } from '../../wallet/history';
import { inviteToWallet, type InviteDeps } from '../../wallet/invites';
import { balanceView, ownWallet, registerWallet, resolveUser, resolveUsers, verificationStatusView, type WalletDeps, walletWithBalances } from '../../wallet/wallets';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { BalanceAnswer, ResolvedUser, ResolvedUsers, VerificationAnswer, WalletAnswer, WalletHistory, WalletInviteAnswer, WalletTransaction } from '../responses/wallet';
import type { RateLimit } from '../middleware/rateLimit';
import { Currency, MatrixUserId, Pagination, RoomId, Snapshot } from '../schemas';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const RegisterBody = z
  .object({
    user_id: MatrixUserId.optional(),
    currency: Currency.optional(),
    initial_settings: z
      .object({ mfa_enabled: z.boolean().optional(), daily_limit: z.union([z.number(), z.string()]).optional() })
      .strict()
      .optional(),
  })
  .strict();

const BalanceQuery = z.object({ currency: Currency.optional() }).strict();
const TransactionsQuery = Pagination.extend({
  snapshot: Snapshot.optional(),
}).strict();
const InviteBody = z.object({ user_id: MatrixUserId, room_id: RoomId }).strict();
const TxnId = z.string().refine((id) => isId('transaction', id), 'must be a transaction id like txn_...');
const ResolveQuery = z.object({ room_id: RoomId.optional() }).strict();
const BatchBody = z
  .object({
    user_ids: z.array(MatrixUserId).min(1).max(100).refine((ids) => new Set(ids).size === ids.length, 'must not repeat a user id'),
    room_id: RoomId.optional(),
  })
  .strict();

const doc = {
  register: documented({ summary: "Create the caller's wallet, or answer the one they have", callers: ['mini-app', 'matrix'], body: RegisterBody, responses: { 200: WalletAnswer, 201: WalletAnswer } }),
  balance: documented({ summary: "The caller's balance, limits and verification level", callers: ['mini-app'], query: BalanceQuery, responses: { 200: BalanceAnswer } }),
  transactions: documented({ summary: "The caller's wallet entries, newest first, paged on a snapshot", callers: ['mini-app'], query: TransactionsQuery, responses: { 200: WalletHistory } }),
  invite: documented({
    summary: 'Invite someone without a wallet to create one: the payments bot posts m.tween.wallet.invite in a room you share (PROTO 6.3.10)',
    callers: ['mini-app'],
    body: InviteBody,
    responses: { 202: WalletInviteAnswer },
  }),
  transaction: documented({
    summary: "One entry of the caller's wallet: the receipt a payment card's view_receipt links to (PROTO 4.11.4)",
    callers: ['mini-app'],
    params: z.object({ txn_id: TxnId }),
    responses: { 200: WalletTransaction },
  }),
  verification: documented({ summary: "The caller's verification level, its limits and what the next one takes", callers: ['mini-app'], responses: { 200: VerificationAnswer } }),
  resolveBatch: documented({ summary: 'Whether each of up to 100 users (sharing a room with the caller) has an active wallet', callers: ['mini-app'], body: BatchBody, responses: { 200: ResolvedUsers } }),
  resolve: documented({ summary: 'Whether a user sharing a room with the caller has an active wallet', callers: ['mini-app'], params: z.object({ user_id: MatrixUserId }), query: ResolveQuery, responses: { 200: ResolvedUser } }),
};

/** PROTO 6.2-6.4, mounted under /api/v1/wallet and PROTO's /wallet/v1 (src/http/app.ts). */
export function walletRoutes(
  deps: WalletDeps & InviteDeps,
  auth: CallerGates['tep'],
  registerAuth: CallerGates['tepOrMatrix'],
  limit: RateLimit,
): Router<AppState> {
  const router = new Router<AppState>();

  // A mini-app's TEP, or the messenger with the user's Matrix access token (PROTO 6.3.4).
  router.post('/register', doc.register, registerAuth('wallet:balance'), limit('default'), async (ctx) => {
    const body = parseInput(RegisterBody, ctx.request.body ?? {});
    const userId = ctx.state.tep?.userId ?? ctx.state.messengerUser!;
    if (body.user_id !== undefined && body.user_id !== userId) {
      throw new DomainError('INSUFFICIENT_PERMISSIONS', 'user_id must be the token subject', { field: 'user_id' });
    }
    const { wallet, created } = await registerWallet(deps, userId, {
      currency: body.currency,
      dailyLimit: body.initial_settings?.daily_limit,
    });
    ctx.status = created ? 201 : 200;
    ctx.body = await walletWithBalances(deps, wallet);
  });

  router.get('/balance', doc.balance, auth('wallet:balance'), limit('balance'), async (ctx) => {
    const query = parseInput(BalanceQuery, ctx.query, 'query');
    ctx.body = await balanceView(deps, ctx.state.tep!.userId, query.currency);
  });

  router.get('/transactions', doc.transactions, auth('wallet:history'), limit('history'), async (ctx) => {
    const query = parseInput(TransactionsQuery, ctx.query, 'query');
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    ctx.body = await historyView(deps.pool, wallet, query);
  });

  router.post('/invite', doc.invite, auth('wallet:pay'), limit('resolution'), async (ctx) => {
    const body = parseInput(InviteBody, ctx.request.body ?? {});
    ctx.status = 202;
    ctx.body = await inviteToWallet(deps, ctx.state.tep!.userId, { userId: body.user_id, roomId: body.room_id });
  });

  router.get('/transactions/:txn_id', doc.transaction, auth('wallet:history'), limit('history'), async (ctx) => {
    const txnId = parseInput(TxnId, ctx.params.txn_id, 'txn_id');
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    ctx.body = await transactionReceipt(deps.pool, wallet, txnId);
  });

  router.get('/verification', doc.verification, auth('wallet:balance'), limit('balance'), async (ctx) => {
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    ctx.body = verificationStatusView(wallet);
  });

  router.post('/resolve/batch', doc.resolveBatch, auth('wallet:pay'), limit('resolution'), async (ctx) => {
    const body = parseInput(BatchBody, ctx.request.body ?? {});
    ctx.body = await resolveUsers(deps, ctx.state.tep!.userId, body.user_ids, body.room_id);
  });

  router.get('/resolve/:user_id', doc.resolve, auth('wallet:pay'), limit('resolution'), async (ctx) => {
    const userId = parseInput(MatrixUserId, ctx.params.user_id, 'user_id');
    const query = parseInput(ResolveQuery, ctx.query, 'query');
    ctx.body = await resolveUser(deps, ctx.state.tep!.userId, userId, query.room_id);
  });

  return router;
}
