import Router from '@koa/router';
import { z } from 'zod';
import { CLIENT_TYPES, SETTABLE_MINIAPP_STATUSES } from '../../domain/miniapps';
import { createMiniapp, deleteMiniapp, getMiniapp, listMiniappViews, patchMiniapp, rotateAppWebhookSecret, rotateClientSecret } from '../../miniapps/admin';
import { reviewApp, type DeveloperAppDeps } from '../../developers/apps';
import { announceRemoval } from '../../miniapps/announcements';
import { adminAuth } from '../middleware/auth';
import { DeveloperApp } from '../responses/developers';
import { documented } from '../openapi/routeDoc';
import { ClientSecretRotated, MiniappAnswer, MiniappChanged, MiniappCreated, MiniappDeleted, MiniappList, WebhookSecretRotated } from '../responses/admin';
import type { AppState } from '../state';
import { clientUrl, RedirectUris, RegistryScope, RegistryScopes } from '../schemas';
import { parseInput } from '../validate';


const MiniappBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    client_type: z.enum(CLIENT_TYPES),
    redirect_uris: RedirectUris.default([]),
    scopes: RegistryScopes,
    pre_approved_scopes: z.array(RegistryScope).max(50).default([]),
    webhook_url: clientUrl('webhooks').optional(),
    first_party: z.boolean().default(false),
  })
  .strict()
  .refine((app) => app.pre_approved_scopes.every((s) => app.scopes.includes(s)), {
    message: 'must be a subset of scopes',
    path: ['pre_approved_scopes'],
  });

const MiniappPatchBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    redirect_uris: RedirectUris.optional(),
    scopes: RegistryScopes.optional(),
    pre_approved_scopes: z.array(RegistryScope).max(50).optional(),
    webhook_url: clientUrl('webhooks').nullable().optional(),
    status: z.enum(SETTABLE_MINIAPP_STATUSES).optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field');

const ReviewBody = z.object({ decision: z.enum(['approve', 'reject']), reason: z.string().trim().min(1).max(2000).optional() }).strict();

const doc = {
  create: documented({ summary: 'Register a mini-app; the answer holds its secrets, shown once', callers: ['operator'], body: MiniappBody, responses: { 201: MiniappCreated } }),
  list: documented({ summary: 'Every registered mini-app', callers: ['operator'], responses: { 200: MiniappList } }),
  get: documented({ summary: 'One registered mini-app', callers: ['operator'], responses: { 200: MiniappAnswer } }),
  remove: documented({
    summary: "Delete a mini-app: every session revoked, its users' approvals and stored data deleted; its payments and merchant account stay",
    callers: ['operator'],
    responses: { 200: MiniappDeleted },
  }),
  patch: documented({ summary: 'Change a mini-app; suspending it stops every token it holds', callers: ['operator'], body: MiniappPatchBody, responses: { 200: MiniappChanged } }),
  secret: documented({ summary: "A new client secret for a confidential client; the old one stops working", callers: ['operator'], responses: { 200: ClientSecretRotated } }),
  review: documented({ summary: "Approve or reject an app waiting for review (a developer's registration, a new scope, an appeal)", callers: ['operator'], body: ReviewBody, responses: { 200: DeveloperApp } }),
  webhookSecret: documented({ summary: 'A new webhook secret; the previous one keeps signing beside it for a while', callers: ['operator'], responses: { 200: WebhookSecretRotated } }),
};

/** The mini-app registry for operators (PROTO 4.2), guarded by ADMIN_TOKEN. */
export function miniappRoutes(deps: DeveloperAppDeps, adminToken: string | undefined): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/mini-apps' });
  router.use(adminAuth(adminToken));

  router.post('/', doc.create, async (ctx) => {
    const body = parseInput(MiniappBody, ctx.request.body ?? {});
    const created = await createMiniapp(deps, {
      name: body.name,
      clientType: body.client_type,
      redirectUris: body.redirect_uris,
      scopes: body.scopes,
      preApprovedScopes: body.pre_approved_scopes,
      webhookUrl: body.webhook_url,
      firstParty: body.first_party,
    });
    ctx.state.log.info({ client_id: created.client_id, client_type: created.client_type }, 'mini-app registered');
    ctx.set('Cache-Control', 'no-store'); // the answer holds secrets shown once
    ctx.status = 201;
    ctx.body = created;
  });

  router.get('/', doc.list, async (ctx) => {
    ctx.body = await listMiniappViews(deps);
  });

  router.get('/:client_id', doc.get, async (ctx) => {
    ctx.body = await getMiniapp(deps, ctx.params.client_id!);
  });

  router.patch('/:client_id', doc.patch, async (ctx) => {
    const body = parseInput(MiniappPatchBody, ctx.request.body ?? {});
    const changed = await patchMiniapp(deps, ctx.params.client_id!, {
      name: body.name,
      redirectUris: body.redirect_uris,
      scopes: body.scopes,
      preApprovedScopes: body.pre_approved_scopes,
      webhookUrl: body.webhook_url,
      status: body.status,
    });
    ctx.state.log.info({ client_id: changed.client_id, fields: Object.keys(body) }, 'mini-app changed by an operator');
    if ('webhook_secret' in changed) ctx.set('Cache-Control', 'no-store');
    ctx.body = changed;
  });

  router.delete('/:client_id', doc.remove, async (ctx) => {
    ctx.body = await deleteMiniapp(deps, ctx.params.client_id!);
    await announceRemoval(deps, ctx.params.client_id!, 'operator');
    ctx.state.log.info({ client_id: ctx.params.client_id, ...ctx.body }, 'mini-app deleted by an operator');
  });

  router.post('/:client_id/secret', doc.secret, async (ctx) => {
    const rotated = await rotateClientSecret(deps, ctx.params.client_id!);
    ctx.state.log.info({ client_id: rotated.client_id }, 'client secret rotated');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = rotated;
  });

  router.post('/:client_id/review', doc.review, async (ctx) => {
    const body = parseInput(ReviewBody, ctx.request.body ?? {});
    ctx.body = await reviewApp(deps, ctx.params.client_id!, { approve: body.decision === 'approve', ...(body.reason ? { reason: body.reason } : {}) });
    ctx.state.log.info({ client_id: ctx.params.client_id, decision: body.decision }, 'mini-app reviewed by an operator');
  });

  router.post('/:client_id/webhook-secret', doc.webhookSecret, async (ctx) => {
    const rotated = await rotateAppWebhookSecret(deps, ctx.params.client_id!, deps.config.webhookSecretOverlapSeconds);
    ctx.state.log.info({ client_id: rotated.client_id }, 'webhook secret rotated');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = rotated;
  });

  return router;
}
