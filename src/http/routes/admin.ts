import Router from '@koa/router';
import { z } from 'zod';
import { updateWallet, WALLET_STATUSES } from '../../db/wallets';
import { MAX_VERIFICATION_LEVEL } from '../../domain/verification';
import { DomainError } from '../../domain/errors';
import { isId } from '../../domain/ids';
import { fundWallet, type WalletDeps } from '../../wallet/wallets';
import { adminAuth } from '../middleware/auth';
import { IdempotencyKey, WholeNumber, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const FundBody = withMoney({ idempotency_key: IdempotencyKey, note: z.string().max(280).optional() });
const WalletPatch = z
  .object({ status: z.enum(WALLET_STATUSES).optional(), verification_level: WholeNumber(0, MAX_VERIFICATION_LEVEL).optional() })
  .strict()
  .refine((patch) => patch.status !== undefined || patch.verification_level !== undefined, 'must set status or verification_level');

function walletIdParam(ctx: AppContext): string {
  const id = ctx.params.wallet_id;
  if (!isId('wallet', id)) throw new DomainError('NO_WALLET', 'Wallet does not exist', { wallet_id: id });
  return id;
}

/** Operator endpoints, guarded by ADMIN_TOKEN. */
export function adminRoutes(deps: WalletDeps, adminToken: string | undefined): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin' });
  router.use(adminAuth(adminToken));

  router.post('/wallets/:wallet_id/fund', async (ctx) => {
    const walletId = walletIdParam(ctx);
    const body = parseInput(FundBody, ctx.request.body ?? {});
    const result = await fundWallet(deps, walletId, {
      amount: body.amount,
      currency: body.currency,
      idempotencyKey: body.idempotency_key,
      note: body.note,
    });
    ctx.state.log.info({ wallet_id: walletId, txn_id: result.body.txn_id, replayed: result.replayed }, 'wallet funded');
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = 201;
    ctx.body = result.body;
  });

  router.patch('/wallets/:wallet_id', async (ctx) => {
    const walletId = walletIdParam(ctx);
    const body = parseInput(WalletPatch, ctx.request.body ?? {});
    const wallet = await updateWallet(deps.pool, walletId, { status: body.status, verificationLevel: body.verification_level });
    if (!wallet) throw new DomainError('NO_WALLET', 'Wallet does not exist', { wallet_id: walletId });
    ctx.state.log.info({ wallet_id: walletId, status: body.status, verification_level: body.verification_level }, 'wallet changed by an operator');
    ctx.body = {
      wallet_id: wallet.id,
      user_id: wallet.user_id,
      status: wallet.status,
      verification_level: wallet.verification_level,
      verified_at: wallet.verified_at?.toISOString() ?? null,
    };
  });

  return router;
}
