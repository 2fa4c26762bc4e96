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
import { documented } from '../openapi/routeDoc';
import { FundAnswer, HousekeepingAnswer, HousekeepingChanged, ReconciliationList, SuspensionAnswer, SuspensionList, WalletChanged } from '../responses/admin';
import { IdempotencyKey, WholeNumber, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const HousekeepingBody = z.object({ jobs: z.array(z.string().min(1).max(64)).min(1).max(32).optional() }).strict();
const FundBody = withMoney({ idempotency_key: IdempotencyKey, note: z.string().max(280).optional() });
const WalletPatch = z
  .object({ status: z.enum(WALLET_STATUSES).optional(), verification_level: WholeNumber(0, MAX_VERIFICATION_LEVEL).optional() })
  .strict()
  .refine((patch) => patch.status !== undefined || patch.verification_level !== undefined, 'must set status or verification_level');

const doc = {
  fund: documented({ summary: "Deposit into a wallet from the funding account (idempotent per key)", callers: ['operator'], body: FundBody, responses: { 201: FundAnswer } }),
  changeWallet: documented({ summary: "Change a wallet's status or verification level", callers: ['operator'], body: WalletPatch, responses: { 200: WalletChanged } }),
  suspensions: documented({ summary: 'Suspensions in force for repeated rate-limit violations', callers: ['operator'], responses: { 200: SuspensionList } }),
  lift: documented({ summary: 'Lift a suspension and forgive the violations that led to it', callers: ['operator'], responses: { 200: SuspensionAnswer } }),
  housekeeping: documented({ summary: "Each housekeeping job's last round, who ran it, and whether it is paused", callers: ['operator'], responses: { 200: HousekeepingAnswer } }),
  pause: documented({ summary: 'Pause the named housekeeping jobs (every one when none is named)', callers: ['operator'], body: HousekeepingBody, responses: { 200: HousekeepingChanged } }),
  resume: documented({ summary: 'Resume the named housekeeping jobs (every one when none is named)', callers: ['operator'], body: HousekeepingBody, responses: { 200: HousekeepingChanged } }),
  reconciliation: documented({ summary: 'Payouts to settle by hand (a provider paid one whose money had gone back)', callers: ['operator'], responses: { 200: ReconciliationList } }),
};

function walletIdParam(ctx: AppContext): string {
  const id = ctx.params.wallet_id;
  if (!isId('wallet', id)) throw new DomainError('NO_WALLET', 'Wallet does not exist', { wallet_id: id });
  return id;
}

/** Operator endpoints, guarded by ADMIN_TOKEN. */
export function adminRoutes(deps: WalletDeps & SuspensionDeps, adminToken: string | undefined): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin' });
  router.use(adminAuth(adminToken));

  router.post('/wallets/:wallet_id/fund', doc.fund, async (ctx) => {
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

  router.patch('/wallets/:wallet_id', doc.changeWallet, async (ctx) => {
    const walletId = walletIdParam(ctx);
    const body = parseInput(WalletPatch, ctx.request.body ?? {});
    ctx.body = await changeWallet(deps, walletId, { status: body.status, verificationLevel: body.verification_level });
    ctx.state.log.info({ wallet_id: walletId, status: body.status, verification_level: body.verification_level }, 'wallet changed by an operator');
  });

  // PROTO 11.4.5: who is suspended for repeated rate-limit violations, and lifting it.
  router.get('/suspensions', doc.suspensions, async (ctx) => {
    ctx.body = await listSuspensions(deps);
  });

  router.post('/suspensions/:suspension_id/lift', doc.lift, async (ctx) => {
    const id = ctx.params.suspension_id!;
    const lifted = await liftSuspensionById(deps, id);
    ctx.state.log.info({ suspension_id: id, subject: lifted.subject }, 'suspension lifted by an operator');
    ctx.body = lifted.view;
  });

  // Housekeeping (sweeps and purges, run by one API process across replicas): see, pause, resume.
  router.get('/housekeeping', doc.housekeeping, async (ctx) => {
    ctx.body = await housekeepingView(deps.pool);
  });
  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    router.post(`/housekeeping/${action}`, doc[action], async (ctx) => {
      const body = parseInput(HousekeepingBody, ctx.request.body ?? {});
      ctx.body = await pauseHousekeeping(deps.pool, paused, body.jobs);
      ctx.state.log.info({ jobs: body.jobs ?? 'all', paused }, `housekeeping ${action}d by an operator`);
    });
  }

  // Payouts a provider confirmed after their money went back to the owner (never moved twice): settled by hand.
  router.get('/reconciliation', doc.reconciliation, async (ctx) => {
    ctx.body = await withdrawalsForReconciliation(deps);
  });

  return router;
}
