import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { MatrixTokenChecker } from '../../auth/matrixTokens';
import { developerOfToken, developers, developerTokenForMatrixUser, enroll, logout, refreshDeveloperToken, unenroll } from '../../developers/accounts';
import { appeal, deleteMyApp, myApp, myApps, myWebhookLog, registerApp, rotateMySecret, rotateMyWebhookSecret, updateApp } from '../../developers/apps';
import { CLIENT_TYPES } from '../../domain/miniapps';
import type { RegistryDeps } from '../../miniapps/admin';
import type { DeveloperAppDeps } from '../../developers/apps';
import { isVersion } from '../../domain/miniappEvents';
import { OAuthError } from '../../oauth/errors';
import { TOKEN_EXCHANGE_GRANT } from '../../oauth/tokenExchange';
import { adminAuth, bearerToken } from '../middleware/auth';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import { AppAppeal, DeveloperApp, DeveloperAppList, DeveloperEnrolled, DeveloperList, DeveloperLogout, DeveloperTokenAnswer, DeveloperView, RegisteredApp, UpdatedApp } from '../responses/developers';
import { ClientSecretRotated, MiniappDeleted, WebhookSecretRotated } from '../responses/admin';
import { AppWebhookLog } from '../responses/payments';
import { clientUrl, MatrixUserId, RedirectUris, RegistryScopes } from '../schemas';
import type { AppState } from '../state';
import { parseInput } from '../validate';
import { field, oauthAnswer, oauthForm } from './oauth';


/** PROTO 9.1.1's request. Kept: name, description, client type, redirect URIs, webhook URL and scopes; the rest is accepted as PROTO shows it and not kept. */
const Version = z.string().refine(isVersion, 'must be a version like 1.2.3');

const RegisterBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    version: Version.optional(),
    short_name: z.string().max(50).optional(),
    description: z.string().trim().max(1000).optional(),
    category: z.string().max(50).optional(),
    developer: z.object({ company_name: z.string().max(200).optional(), email: z.string().max(200).optional(), website: z.string().max(500).optional() }).strict().optional(),
    technical: z
      .object({
        entry_url: clientUrl('entry_url').optional(),
        redirect_uris: RedirectUris.default([]),
        webhook_url: clientUrl('webhooks').optional(),
        scopes_requested: RegistryScopes,
        client_type: z.enum(CLIENT_TYPES).default('public'),
      })
      .strict(),
    branding: z.object({ icon_url: z.string().max(500).optional(), primary_color: z.string().max(16).optional() }).strict().optional(),
  })
  .strict();

const UpdateBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().trim().max(1000).optional(),
    redirect_uris: RedirectUris.optional(),
    webhook_url: clientUrl('webhooks').nullable().optional(),
    scopes: RegistryScopes.optional(),
    version: Version.optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field');

const AppealBody = z.object({ reason: z.string().trim().min(1).max(2000), changes_made: z.array(z.string().max(500)).max(20).default([]) }).strict();
const EnrollBody = z.object({ user_id: MatrixUserId }).strict();
const MiniappParam = z.object({ miniapp_id: z.string().max(128) });
const RevokeForm = z.object({ token: z.string().min(1).max(256), token_type_hint: z.string().max(64).optional() });
const TokenForm = z.object({
  grant_type: z.enum([TOKEN_EXCHANGE_GRANT, 'refresh_token']),
  subject_token: z.string().optional().describe("the developer's Matrix access token (token exchange)"),
  subject_token_type: z.string().optional(),
  refresh_token: z.string().optional(),
});

const doc = {
  token: documented({ summary: "A developer token (PROTO 4.4.3) for an enrolled developer's Matrix access token, or for a refresh token (single use)", callers: ['client'], form: TokenForm, responses: { 200: DeveloperTokenAnswer } }),
  revoke: documented({ summary: 'The developer revokes a token of theirs and the one issued with it (PROTO 4.4.7)', callers: ['developer'], form: RevokeForm, responses: { 200: DeveloperLogout } }),
  register: documented({ summary: 'Register a mini-app (PROTO 9.1.1): pending review until an operator approves it; its secrets are shown once', callers: ['developer'], body: RegisterBody, responses: { 201: RegisteredApp } }),
  list: documented({ summary: "The developer's own mini-apps", callers: ['developer'], responses: { 200: DeveloperAppList } }),
  get: documented({ summary: 'One of the developer’s mini-apps, with its review trail', callers: ['developer'], params: MiniappParam, responses: { 200: DeveloperApp } }),
  update: documented({ summary: 'Change a mini-app; a new scope sends an approved app back to review', callers: ['developer'], params: MiniappParam, body: UpdateBody, responses: { 200: UpdatedApp } }),
  remove: documented({ summary: "Delete a mini-app: sessions revoked, users' approvals and stored data deleted; payments stay", callers: ['developer'], params: MiniappParam, responses: { 200: MiniappDeleted } }),
  secret: documented({ summary: "A new client secret (a hybrid app's backend's); the old one stops working", callers: ['developer'], params: MiniappParam, responses: { 200: ClientSecretRotated } }),
  webhookSecret: documented({ summary: 'A new webhook secret; the previous one keeps signing beside it for a while', callers: ['developer'], params: MiniappParam, responses: { 200: WebhookSecretRotated } }),
  webhooks: documented({ summary: "The app's latest webhook events and every delivery attempt", callers: ['developer'], params: MiniappParam, responses: { 200: AppWebhookLog } }),
  appeal: documented({ summary: 'Ask for a rejected or suspended app to be reviewed again (PROTO 9.3.4)', callers: ['developer'], params: MiniappParam, body: AppealBody, responses: { 200: AppAppeal } }),
  enroll: documented({ summary: 'Enroll a Matrix user as a developer; the answer holds their first developer token, shown once', callers: ['operator'], body: EnrollBody, responses: { 201: DeveloperEnrolled } }),
  developers: documented({ summary: 'Every enrolled developer', callers: ['operator'], responses: { 200: DeveloperList } }),
  unenroll: documented({ summary: 'Take a developer off the whitelist: every token they hold stops; their apps stay', callers: ['operator'], params: z.object({ user_id: z.string().max(255) }), responses: { 200: DeveloperView } }),
};

/** Who may call: a live developer token of an enrolled developer (`Authorization: Bearer dev_…`), else 401. */
function developerGate(deps: Pick<RegistryDeps, 'pool'>): Middleware<AppState> {
  return async (ctx, next) => {
    ctx.state.developer = await developerOfToken(deps, bearerToken(ctx));
    await next();
  };
}

/** PROTO 4.4's developer accounts and 9.1-9.3's self-service registry, and the operator's side of both. */
export function developerRoutes(deps: DeveloperAppDeps & { matrixTokens: MatrixTokenChecker }, adminToken: string | undefined, limit: RateLimit): Router<AppState>[] {
  const gate = developerGate(deps);
  const id = (ctx: { params: Record<string, string> }) => ctx.params.miniapp_id!;

  const tokens = new Router<AppState>({ prefix: '/oauth2/developer' });
  tokens.post('/token', doc.token, limit('token'), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      const grantType = field(form, 'grant_type', true)!;
      if (grantType === 'refresh_token') return refreshDeveloperToken(deps, field(form, 'refresh_token', true)!);
      if (grantType !== TOKEN_EXCHANGE_GRANT) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported here`);
      return developerTokenForMatrixUser(deps, field(form, 'subject_token', true)!, field(form, 'subject_token_type', true)!);
    });
  });
  tokens.post('/revoke', doc.revoke, gate, limit('default'), async (ctx) => {
    const body = parseInput(RevokeForm, ctx.request.body ?? {});
    ctx.body = await logout(deps, ctx.state.developer!, body.token);
  });

  const apps = new Router<AppState>({ prefix: '/mini-apps/v1' });
  apps.post('/register', doc.register, gate, limit('app_registration'), async (ctx) => {
    const body = parseInput(RegisterBody, ctx.request.body ?? {});
    const registered = await registerApp(deps, ctx.state.developer!, {
      name: body.name,
      ...(body.description ? { description: body.description } : {}),
      clientType: body.technical.client_type,
      redirectUris: body.technical.redirect_uris,
      ...(body.technical.webhook_url ? { webhookUrl: body.technical.webhook_url } : {}),
      scopes: body.technical.scopes_requested,
      ...(body.version ? { version: body.version } : {}),
    });
    ctx.state.log.info({ client_id: registered.miniapp_id, developer_id: ctx.state.developer }, 'mini-app registered by its developer');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = registered;
  });
  apps.get('/', doc.list, gate, limit('default'), async (ctx) => {
    ctx.body = await myApps(deps, ctx.state.developer!);
  });
  apps.get('/:miniapp_id', doc.get, gate, limit('default'), async (ctx) => {
    ctx.body = await myApp(deps, ctx.state.developer!, id(ctx));
  });
  apps.patch('/:miniapp_id', doc.update, gate, limit('app_updates'), async (ctx) => {
    const body = parseInput(UpdateBody, ctx.request.body ?? {});
    const updated = await updateApp(deps, ctx.state.developer!, id(ctx), {
      name: body.name,
      description: body.description,
      redirectUris: body.redirect_uris,
      webhookUrl: body.webhook_url,
      scopes: body.scopes,
      version: body.version,
    });
    if ('webhook_secret' in updated) ctx.set('Cache-Control', 'no-store');
    ctx.body = updated;
  });
  apps.delete('/:miniapp_id', doc.remove, gate, limit('app_updates'), async (ctx) => {
    ctx.body = await deleteMyApp(deps, ctx.state.developer!, id(ctx));
    ctx.state.log.info({ client_id: id(ctx), developer_id: ctx.state.developer }, 'mini-app deleted by its developer');
  });
  apps.post('/:miniapp_id/secret', doc.secret, gate, limit('app_updates'), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await rotateMySecret(deps, ctx.state.developer!, id(ctx));
  });
  apps.post('/:miniapp_id/webhook-secret', doc.webhookSecret, gate, limit('app_updates'), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await rotateMyWebhookSecret(deps, ctx.state.developer!, id(ctx));
  });
  apps.get('/:miniapp_id/webhooks', doc.webhooks, gate, limit('default'), async (ctx) => {
    ctx.body = await myWebhookLog(deps, ctx.state.developer!, id(ctx));
  });
  apps.post('/:miniapp_id/appeal', doc.appeal, gate, limit('app_updates'), async (ctx) => {
    const body = parseInput(AppealBody, ctx.request.body ?? {});
    ctx.body = await appeal(deps, ctx.state.developer!, id(ctx), { reason: body.reason, changesMade: body.changes_made });
  });

  const admin = new Router<AppState>({ prefix: '/api/v1/admin/developers' });
  admin.use(adminAuth(adminToken));
  admin.post('/', doc.enroll, async (ctx) => {
    const body = parseInput(EnrollBody, ctx.request.body ?? {});
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = await enroll(deps, body.user_id);
    ctx.state.log.info({ developer_id: body.user_id }, 'developer enrolled by an operator');
  });
  admin.get('/', doc.developers, async (ctx) => {
    ctx.body = await developers(deps);
  });
  admin.delete('/:user_id', doc.unenroll, async (ctx) => {
    ctx.body = await unenroll(deps, ctx.params.user_id!);
    ctx.state.log.info({ developer_id: ctx.params.user_id }, 'developer taken off the whitelist');
  });

  return [tokens, apps, admin];
}
