import Router from '@koa/router';
import { z } from 'zod';
import { liftSuspensionById, listSuspensions, type SuspensionDeps } from '../../abuse/suspensions';
import { WALLET_STATUSES } from '../../domain/wallets';
import { MAX_VERIFICATION_LEVEL } from '../../domain/verification';
import { DomainError } from '../../domain/errors';
import { isId } from '../../domain/ids';
import { changeWallet, fundWallet, type WalletDeps } from '../../wallet/wallets';
import { housekeepingView, pauseHousekeeping } from '../../housekeeping/housekeeping';
import { withdrawalsForReconciliation } from '../../withdrawals/withdrawals';
import { adminAuth } from '../middleware/auth';
import { IdempotencyKey, WholeNumber, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const HousekeepingBody = z.object({ jobs: z.array(z.string().min(1).max(64)).min(1).max(32).optional() }).strict();
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
export function adminRoutes(deps: WalletDeps & SuspensionDeps, adminToken: string | undefined): Router<AppState> {
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
    ctx.body = await changeWallet(deps, walletId, { status: body.status, verificationLevel: body.verification_level });
    ctx.state.log.info({ wallet_id: walletId, status: body.status, verification_level: body.verification_level }, 'wallet changed by an operator');
  });

  // PROTO 11.4.5: who is suspended for repeated rate-limit violations, and lifting it.
  router.get('/suspensions', async (ctx) => {
    ctx.body = await listSuspensions(deps);
  });

  router.post('/suspensions/:suspension_id/lift', async (ctx) => {
    const id = ctx.params.suspension_id!;
    const lifted = await liftSuspensionById(deps, id);
    ctx.state.log.info({ suspension_id: id, subject: lifted.subject }, 'suspension lifted by an operator');
    ctx.body = lifted.view;
  });

  // Housekeeping (sweeps and purges, run by one API process across replicas): see, pause, resume.
  router.get('/housekeeping', async (ctx) => {
    ctx.body = await housekeepingView(deps.pool);
  });
  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    router.post(`/housekeeping/${action}`, async (ctx) => {
      const body = parseInput(HousekeepingBody, ctx.request.body ?? {});
      ctx.body = await pauseHousekeeping(deps.pool, paused, body.jobs);
      ctx.state.log.info({ jobs: body.jobs ?? 'all', paused }, `housekeeping ${action}d by an operator`);
    });
  }

  // Payouts a provider confirmed after their money went back to the owner (never moved twice): settled by hand.
  router.get('/reconciliation', async (ctx) => {
    ctx.body = await withdrawalsForReconciliation(deps);
  });

  return router;
}
