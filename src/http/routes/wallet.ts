import Router from '@koa/router';
import { z } from 'zod';
import { DomainError } from '../../domain/errors';
import { historyView } from '../../wallet/history';
import { balanceView, ownWallet, registerWallet, type ResolveDeps, resolveUser, resolveUsers, verificationStatusView, type WalletDeps, walletWithBalances } from '../../wallet/wallets';
import { SNAPSHOT_PATTERN } from '../../domain/ledger';
import type { CallerGates } from '../middleware/auth';
import type { RateLimit } from '../middleware/rateLimit';
import { Currency, MatrixUserId, Pagination, RoomId } from '../schemas';
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
  snapshot: z.string().regex(SNAPSHOT_PATTERN, 'must be the pagination.snapshot of an earlier page').optional(),
}).strict();
const ResolveQuery = z.object({ room_id: RoomId.optional() }).strict();
const BatchBody = z
  .object({
    user_ids: z.array(MatrixUserId).min(1).max(100).refine((ids) => new Set(ids).size === ids.length, 'must not repeat a user id'),
    room_id: RoomId.optional(),
  })
  .strict();

/** PROTO 6.2-6.4 under /api/v1/wallet. */
export function walletRoutes(
  deps: WalletDeps & ResolveDeps,
  auth: CallerGates['tep'],
  registerAuth: CallerGates['tepOrMatrix'],
  limit: RateLimit,
): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/wallet' });

  // A mini-app's TEP, or the messenger with the user's Matrix access token (PROTO 6.3.4).
  router.post('/register', registerAuth('wallet:balance'), limit('default'), async (ctx) => {
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

  router.get('/balance', auth('wallet:balance'), limit('balance'), async (ctx) => {
    const query = parseInput(BalanceQuery, ctx.query, 'query');
    ctx.body = await balanceView(deps, ctx.state.tep!.userId, query.currency);
  });

  router.get('/transactions', auth('wallet:history'), limit('history'), async (ctx) => {
    const query = parseInput(TransactionsQuery, ctx.query, 'query');
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    ctx.body = await historyView(deps.pool, wallet, query);
  });

  router.get('/verification', auth('wallet:balance'), limit('balance'), async (ctx) => {
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    ctx.body = verificationStatusView(wallet);
  });

  router.post('/resolve/batch', auth('wallet:pay'), limit('resolution'), async (ctx) => {
    const body = parseInput(BatchBody, ctx.request.body ?? {});
    ctx.body = await resolveUsers(deps, ctx.state.tep!.userId, body.user_ids, body.room_id);
  });

  router.get('/resolve/:user_id', auth('wallet:pay'), limit('resolution'), async (ctx) => {
    const userId = parseInput(MatrixUserId, ctx.params.user_id, 'user_id');
    const query = parseInput(ResolveQuery, ctx.query, 'query');
    ctx.body = await resolveUser(deps, ctx.state.tep!.userId, userId, query.room_id);
  });

  return router;
}
