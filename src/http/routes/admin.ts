import Router from '@koa/router';
import { z } from 'zod';
import type { BucketStore } from '../../abuse/buckets';
import { activeSuspensions, liftSuspension, type SuspensionRow } from '../../db/rateLimits';
import { updateWallet, WALLET_STATUSES } from '../../db/wallets';
import { violationsKey } from '../../domain/rateLimits';
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

function suspensionJson(s: SuspensionRow) {
  return {
    suspension_id: s.id,
    user_id: s.user_id,
    client_id: s.client_id,
    address: s.address,
    reason: s.reason,
    suspended_at: s.suspended_at.toISOString(),
    suspended_until: s.suspended_until.toISOString(),
    lifted_at: s.lifted_at?.toISOString() ?? null,
  };
}

/** Operator endpoints, guarded by ADMIN_TOKEN. */
export function adminRoutes(deps: WalletDeps & { buckets: BucketStore }, adminToken: string | undefined): Router<AppState> {
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

  // PROTO 11.4.5: who is suspended for repeated rate-limit violations, and lifting it.
  router.get('/suspensions', async (ctx) => {
    ctx.body = { suspensions: (await activeSuspensions(deps.pool)).map(suspensionJson) };
  });

  router.post('/suspensions/:suspension_id/lift', async (ctx) => {
    const id = ctx.params.suspension_id;
    const lifted = isId('suspension', id) ? await liftSuspension(deps.pool, id) : null;
    if (!lifted) throw new DomainError('NOT_FOUND', 'No suspension in force by that id', { suspension_id: id });
    // Its violations are forgiven with it: the next one does not suspend again at once.
    await deps.buckets.drop([violationsKey(lifted.subject)]);
    ctx.state.log.info({ suspension_id: id, subject: lifted.subject }, 'suspension lifted by an operator');
    ctx.body = suspensionJson(lifted);
  });

  return router;
}
