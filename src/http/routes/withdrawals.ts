import Router from '@koa/router';
import { z } from 'zod';
import type { Owner } from '../../db/externalAccounts';
import { isId } from '../../domain/ids';
import { invalidField } from '../../domain/errors';
import { merchantBalanceView, merchantHistoryView } from '../../merchants/merchants';
import { linkExternalAccount, listExternalAccounts, unlinkExternalAccount, type ExternalAccountDeps } from '../../withdrawals/externalAccounts';
import { getWithdrawal, listWithdrawals, requestWithdrawal, type WithdrawalDeps } from '../../withdrawals/withdrawals';
import type { CallerGates } from '../middleware/auth';
import { merchantGate } from '../middleware/merchant';
import { documented, type Caller } from '../openapi/routeDoc';
import { ExternalAccountAnswer, ExternalAccountList, MerchantBalance, MerchantHistory, WithdrawalAnswer, WithdrawalList } from '../responses/moneyEdge';
import type { RateLimit } from '../middleware/rateLimit';
import { AuthProof, Currency, IdempotencyKey, Pagination, Snapshot, withMoney } from '../schemas';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const LinkBody = z
  .object({
    type: z.enum(['bank_account', 'card']),
    token: z.string().min(1).max(255).regex(/^[A-Za-z0-9_]+$/, 'must be the token the provider client SDK made of the account'),
    currency: Currency,
    idempotency_key: IdempotencyKey,
  })
  .strict();
const ExternalAccountId = z.string().refine((id) => isId('externalAccount', id), 'must be an external account id like xa_...');
const WithdrawBody = withMoney({ external_account_id: ExternalAccountId, idempotency_key: IdempotencyKey, auth_proof: AuthProof });
const PayoutBody = withMoney({ external_account_id: ExternalAccountId, idempotency_key: IdempotencyKey });
const ListQuery = Pagination.strict();
const TransactionsQuery = Pagination.extend({
  snapshot: Snapshot.optional(),
}).strict();

type Deps = WithdrawalDeps & ExternalAccountDeps;

/** The same routes for a wallet's user and a merchant: described once for each. */
function moneyOutDocs(who: Caller, body: typeof WithdrawBody | typeof PayoutBody) {
  const whose = who === 'merchant' ? "the mini-app's merchant account" : "the user's wallet";
  return {
    link: documented({ summary: `Link a bank account or card (through the provider) to pay ${whose} out to`, callers: [who], body: LinkBody, responses: { 200: ExternalAccountAnswer, 201: ExternalAccountAnswer } }),
    accounts: documented({ summary: `The accounts linked to ${whose}`, callers: [who], responses: { 200: ExternalAccountList } }),
    unlink: documented({ summary: 'Remove a linked account, here and at the provider', callers: [who], responses: { 200: ExternalAccountAnswer } }),
    withdraw: documented({ summary: `Pay out of ${whose} to a linked account (saga withdrawal-<id>)`, callers: [who], body, responses: { 200: WithdrawalAnswer, 201: WithdrawalAnswer } }),
    list: documented({ summary: `Payouts out of ${whose}, newest first`, callers: [who], query: ListQuery, responses: { 200: WithdrawalList } }),
    one: documented({ summary: 'One payout, as it stands', callers: [who], responses: { 200: WithdrawalAnswer } }),
  };
}

function idParam(ctx: AppContext, name: string, kind: 'withdrawal' | 'externalAccount'): string {
  const id = ctx.params[name];
  if (!isId(kind, id)) throw invalidField(name, `must be an id like ${kind === 'withdrawal' ? 'wd' : 'xa'}_...`);
  return id;
}

/** The routes an owner of money uses to move it out, the same for a wallet's user and a merchant. */
function moneyOutRoutes(router: Router<AppState>, deps: Deps, ownerOf: (ctx: AppContext) => Owner, paths: { withdraw: string; withdrawals: string }, limit: RateLimit, who: Caller, withdrawBody: typeof WithdrawBody | typeof PayoutBody) {
  const doc = moneyOutDocs(who, withdrawBody);
  router.post('/external-accounts', doc.link, limit('payment_initiation'), async (ctx) => {
    const body = parseInput(LinkBody, ctx.request.body ?? {});
    const result = await linkExternalAccount(deps, ownerOf(ctx), { type: body.type, token: body.token, currency: body.currency, idempotencyKey: body.idempotency_key });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = result.replayed ? 200 : 201;
    ctx.body = result.body;
  });
  router.get('/external-accounts', doc.accounts, limit('default'), async (ctx) => {
    ctx.body = await listExternalAccounts(deps, ownerOf(ctx));
  });
  router.delete('/external-accounts/:account_id', doc.unlink, limit('default'), async (ctx) => {
    ctx.body = await unlinkExternalAccount(deps, ownerOf(ctx), idParam(ctx, 'account_id', 'externalAccount'));
  });
  router.post(paths.withdraw, doc.withdraw, limit('payment_initiation'), async (ctx) => {
    const body = parseInput(withdrawBody, ctx.request.body ?? {});
    const result = await requestWithdrawal(deps, ownerOf(ctx), {
      externalAccountId: body.external_account_id,
      amount: body.amount,
      currency: body.currency,
      idempotencyKey: body.idempotency_key,
      ...('auth_proof' in body ? { authProof: body.auth_proof } : {}),
      ...(ctx.state.caller ? { via: ctx.state.caller } : {}),
    });
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.status = result.replayed ? 200 : 201;
    ctx.body = result.body;
  });
  router.get(paths.withdrawals, doc.list, limit('history'), async (ctx) => {
    ctx.body = await listWithdrawals(deps, ownerOf(ctx), parseInput(ListQuery, ctx.query, 'query'));
  });
  router.get(`${paths.withdrawals}/:withdrawal_id`, doc.one, limit('default'), async (ctx) => {
    ctx.body = await getWithdrawal(deps, ownerOf(ctx), idParam(ctx, 'withdrawal_id', 'withdrawal'));
  });
}

/**
 * Money out of a wallet (PROTO 6.5, 6.6): the user's own messenger links external accounts and
 * withdraws with a payment proof; a mini-app cannot (money leaving the wallet is the user's own
 * business, as their factors are).
 */
export function withdrawalRoutes(deps: Deps, messenger: CallerGates['messenger'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();
  router.use(['/external-accounts', '/withdraw', '/withdrawals'], messenger('wallet:pay'));
  moneyOutRoutes(router, deps, (ctx) => ({ kind: 'user', id: ctx.state.messengerUser! }), { withdraw: '/withdraw', withdrawals: '/withdrawals' }, limit, 'messenger', WithdrawBody);
  return router;
}

/**
 * A mini-app's merchant account, to its backend (its confidential client, or the `_backend` twin):
 * balance and entries, external accounts, and payouts through the withdrawal saga.
 */
export function merchantRoutes(deps: Deps, limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/merchant' });
  router.use(merchantGate(deps.pool));
  router.get('/balance', documented({ summary: "The mini-app's merchant balance per currency", callers: ['merchant'], responses: { 200: MerchantBalance } }), limit('balance'), async (ctx) => {
    ctx.body = await merchantBalanceView(deps.pool, ctx.state.merchant!);
  });
  router.get('/transactions', documented({ summary: "The merchant account's entries, paged as a wallet's", callers: ['merchant'], query: TransactionsQuery, responses: { 200: MerchantHistory } }), limit('history'), async (ctx) => {
    ctx.body = await merchantHistoryView(deps.pool, ctx.state.merchant!, parseInput(TransactionsQuery, ctx.query, 'query'));
  });
  moneyOutRoutes(router, deps, (ctx) => ({ kind: 'merchant', id: ctx.state.merchant! }), { withdraw: '/payouts', withdrawals: '/payouts' }, limit, 'merchant', PayoutBody);
  return router;
}
