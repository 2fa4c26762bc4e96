import Router from '@koa/router';
import { z } from 'zod';
import { ALL_SCOPES } from '../../domain/scopes';
import type { RateCategory } from '../../domain/rateLimits';
import { approveScopes, listConsents, type ConsentDeps } from '../../oauth/consent';
import { OAuthError } from '../../oauth/errors';
import { redeemAuthorizationCode } from '../../oauth/authorizationCode';
import { introspectToken, revokeToken, type ClientTokenDeps } from '../../oauth/clientTokens';
import { authorizeDevice, decideDeviceGrant, DEVICE_CODE_GRANT, grantForUserCode, pollDeviceGrant, type DeviceGrantDeps } from '../../oauth/deviceGrant';
import type { WebhookStarterDeps } from '../../miniapps/webhookStarter';
import { revokeMiniappAccess } from '../../oauth/revocation';
import { authenticateClient, refreshSession } from '../../oauth/sessions';
import { ACCESS_TOKEN_TYPE, exchangeMatrixToken, TEP_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type TokenExchangeDeps } from '../../oauth/tokenExchange';
import type { CallerGates } from '../middleware/auth';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import { Empty } from '../responses/common';
import {
  AccessRevoked,
  AuthorizationServerMetadata,
  ConsentAnswer,
  ConsentList,
  DeviceAuthorizationAnswer,
  DeviceDecisionAnswer,
  IntrospectionAnswer,
  TokenAnswer,
} from '../responses/oauth';
import type { AppContext, AppState } from '../state';
import { basicCredentials } from '../basicAuth';
import { parseInput } from '../validate';

const ConsentBody = z
  .object({
    client_id: z.string().min(1).max(128),
    scopes: z.array(z.string().min(1).max(200)).min(1).max(50),
  })
  .strict();

const DeviceDecisionBody = z
  .object({
    user_code: z.string().min(1).max(32),
    decision: z.enum(['approve', 'deny']),
  })
  .strict();

const RevokeBody = z.object({ client_id: z.string().min(1).max(128) }).strict();

/*
 * The OAuth endpoints' forms, for /openapi.json only: their handlers read each field with field()
 * so that a bad one is refused in OAuth's error format (RFC 6749 5.2), not PROTO's.
 */
const FormValue = z.string().min(1).max(8192);
/** An empty field is the same as none. */
const OptionalValue = z.string().max(8192).optional();
/** RFC 6749 2.3.1: client_secret_post, or the same in HTTP Basic; a public client sends its client_id alone. */
const ClientFields = { client_id: OptionalValue, client_secret: OptionalValue };
const DeviceCodeForm = z.object({ grant_type: z.literal(DEVICE_CODE_GRANT), device_code: FormValue, ...ClientFields });
const TokenForm = z.discriminatedUnion('grant_type', [
  z.object({ grant_type: z.literal('authorization_code'), code: FormValue, redirect_uri: FormValue, code_verifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/), ...ClientFields }),
  // The messenger exchanges its user's Matrix token for the mini-app it names: no client secret.
  z.object({
    grant_type: z.literal(TOKEN_EXCHANGE_GRANT),
    subject_token: FormValue,
    subject_token_type: z.literal(ACCESS_TOKEN_TYPE),
    requested_token_type: z.literal(TEP_TOKEN_TYPE).optional(),
    client_id: FormValue,
    scope: OptionalValue,
    miniapp_context: z.string().max(2048).optional().describe('A JSON object, carried in the TEP'),
  }),
  DeviceCodeForm,
  z.object({ grant_type: z.literal('refresh_token'), refresh_token: FormValue, scope: OptionalValue, ...ClientFields }),
]);
const DeviceAuthorizationForm = z.object({ scope: OptionalValue, ...ClientFields });
const TokenOfClientForm = z.object({ token: FormValue, ...ClientFields });

const doc = {
  token: documented({ summary: "The token endpoint: a TEP and refresh token for a code, a Matrix token, a device's approval or a refresh token", callers: ['client'], form: TokenForm, responses: { 200: TokenAnswer } }),
  consent: documented({ summary: 'The user approves scopes for a mini-app, from the messenger', callers: ['messenger'], body: ConsentBody, responses: { 200: ConsentAnswer } }),
  consents: documented({ summary: "The user's approvals, by mini-app", callers: ['messenger'], responses: { 200: ConsentList } }),
  withdrawConsent: documented({ summary: "Withdraw a mini-app's access: its sessions, approvals and stored data", callers: ['messenger'], responses: { 200: AccessRevoked } }),
  revokeAccess: documented({ summary: "Withdraw a mini-app's access (PROTO 5.6): its sessions, approvals and stored data", callers: ['messenger'], body: RevokeBody, responses: { 200: AccessRevoked } }),
  deviceAuthorization: documented({ summary: 'A device asks for a user code to show and a device code to poll with (RFC 8628)', callers: ['client'], form: DeviceAuthorizationForm, responses: { 200: DeviceAuthorizationAnswer } }),
  deviceToken: documented({ summary: "A device polls for its tokens (the token endpoint's device grant)", callers: ['client'], form: DeviceCodeForm.partial({ grant_type: true }), responses: { 200: TokenAnswer } }),
  deviceApprove: documented({ summary: "The user approves or denies a device's request by its user code, from the messenger", callers: ['messenger'], body: DeviceDecisionBody, responses: { 200: DeviceDecisionAnswer } }),
  introspect: documented({ summary: "Whether a token of the client's is active, with its claims (RFC 7662)", callers: ['client'], form: TokenOfClientForm, responses: { 200: IntrospectionAnswer } }),
  revoke: documented({ summary: "Revoke a token of the client's, and its session (RFC 7009)", callers: ['client'], form: TokenOfClientForm, responses: { 200: Empty } }),
  metadata: documented({ summary: 'OAuth authorization server metadata (RFC 8414)', callers: ['anyone'], responses: { 200: AuthorizationServerMetadata } }),
};

/** One form field of the token request: a string, at most once (RFC 6749 3.2: parameters must not repeat). */
export function field(form: Record<string, unknown>, name: string, required = false): string | undefined {
  const value = form[name];
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `${name} must be given once`);
  if (value === undefined || value === '') {
    if (required) throw new OAuthError('invalid_request', `${name} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length > 8192) throw new OAuthError('invalid_request', `${name} is not a valid value`);
  return value;
}

/** The request's Basic credentials, or invalid_client when they are malformed. */
function basicOf(ctx: AppContext): { clientId: string; secret: string } | undefined {
  const creds = basicCredentials(ctx);
  if (creds === null) throw new OAuthError('invalid_client', 'malformed Basic credentials');
  return creds;
}

function launchContext(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OAuthError('invalid_request', 'miniapp_context must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || text.length > 2048) {
    throw new OAuthError('invalid_request', 'miniapp_context must be a JSON object of at most 2048 bytes');
  }
  return parsed as Record<string, unknown>;
}

/** Token responses are never cached (RFC 6749 5.1); errors are OAuth's shape, not PROTO's. */
export async function oauthAnswer(ctx: AppContext, produce: () => Promise<unknown>): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  try {
    ctx.body = await produce();
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    ctx.status = err.status;
    if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
    if (err.error === 'invalid_client' && /^Basic\s/i.test(ctx.get('authorization'))) ctx.set('WWW-Authenticate', 'Basic realm="tmcp"');
    ctx.body = err.body;
    ctx.state.log.info({ oauth_error: err.error }, 'token request refused');
  }
}

/** The token endpoint's bucket by grant: refreshes and device polling have PROTO's own limits (11.4.1). */
function tokenCategory(ctx: AppContext): RateCategory {
  const body: unknown = ctx.request.body;
  const grant = typeof body === 'object' && body !== null && 'grant_type' in body ? body.grant_type : undefined;
  if (grant === 'refresh_token') return 'token_refresh';
  if (grant === DEVICE_CODE_GRANT) return 'device_poll';
  return 'token';
}

/** OAuth for mini-apps (PROTO 4.3, 5): the token endpoint, and the user's consents given from the messenger. */
export function oauthRoutes(
  deps: ConsentDeps & TokenExchangeDeps & DeviceGrantDeps,
  messenger: CallerGates['messenger'],
  limit: RateLimit,
): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/token', doc.token, limit(tokenCategory), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      const grantType = field(form, 'grant_type', true)!;
      if (grantType === 'refresh_token') {
        return refreshSession(deps, await clientOf(deps, ctx, form), field(form, 'refresh_token', true)!, field(form, 'scope'));
      }
      if (grantType === 'authorization_code') {
        return redeemAuthorizationCode(deps, await clientOf(deps, ctx, form), {
          code: field(form, 'code', true)!,
          redirectUri: field(form, 'redirect_uri'),
          codeVerifier: field(form, 'code_verifier'),
        });
      }
      if (grantType === DEVICE_CODE_GRANT) return pollDeviceGrant(deps, await clientOf(deps, ctx, form), field(form, 'device_code', true)!);
      if (grantType !== TOKEN_EXCHANGE_GRANT) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported here`);
      return exchangeMatrixToken(deps, {
        subjectToken: field(form, 'subject_token', true)!,
        subjectTokenType: field(form, 'subject_token_type', true)!,
        requestedTokenType: field(form, 'requested_token_type'),
        clientId: field(form, 'client_id', true)!,
        scope: field(form, 'scope'),
        miniappContext: launchContext(field(form, 'miniapp_context')),
      });
    });
  });

  router.post('/consent', doc.consent, messenger('user:read'), limit('default'), async (ctx) => {
    const body = parseInput(ConsentBody, ctx.request.body ?? {});
    const userId = ctx.state.messengerUser!;
    const approved = await approveScopes(deps, userId, body.client_id, body.scopes);
    ctx.state.log.info({ client_id: body.client_id, scopes: body.scopes }, 'scopes approved by the user');
    ctx.body = approved;
  });

  router.get('/consent', doc.consents, messenger('user:read'), limit('default'), async (ctx) => {
    ctx.body = await listConsents(deps, ctx.state.messengerUser!);
  });

  router.delete('/consent/:client_id', doc.withdrawConsent, messenger('user:read'), limit('default'), async (ctx) => {
    ctx.body = await revokeMiniappAccess(deps, ctx.state.messengerUser!, ctx.params.client_id!);
    ctx.state.log.info({ client_id: ctx.params.client_id }, 'mini-app access revoked by the user');
  });

  return router;
}

/** The form of an OAuth request, or invalid_request when the body is something else. */
export function oauthForm(ctx: AppContext): Record<string, unknown> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  return (ctx.request.body ?? {}) as Record<string, unknown>;
}

/** The client of a form request (RFC 6749 2.3): Basic, or client_id with an optional client_secret. */
function clientOf(deps: ClientTokenDeps, ctx: AppContext, form: Record<string, unknown>) {
  return authenticateClient(deps, { clientId: field(form, 'client_id'), basic: basicOf(ctx), postSecret: field(form, 'client_secret') });
}

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) for mini-apps' own tokens, and the Device
 * Authorization Grant (RFC 8628): the device's two endpoints and the messenger's approval.
 */
export function oauth2Routes(deps: ClientTokenDeps & DeviceGrantDeps, messenger: CallerGates['messenger'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/device/authorization', doc.deviceAuthorization, limit('device_code'), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      return authorizeDevice(deps, await clientOf(deps, ctx, form), field(form, 'scope'));
    });
  });

  // The original README's polling route; the token endpoint takes the same grant.
  router.post('/device/token', doc.deviceToken, limit('device_poll'), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      const grantType = field(form, 'grant_type');
      if (grantType !== undefined && grantType !== DEVICE_CODE_GRANT) throw new OAuthError('unsupported_grant_type', `only ${DEVICE_CODE_GRANT} is taken here`);
      return pollDeviceGrant(deps, await clientOf(deps, ctx, form), field(form, 'device_code', true)!);
    });
  });

  // A signed-in messenger answers for its user: the user read the code off the device.
  router.post('/device/approve', doc.deviceApprove, messenger('user:read'), limit('default'), async (ctx) => {
    const body = parseInput(DeviceDecisionBody, ctx.request.body ?? {});
    const { grant, app } = await grantForUserCode(deps, body.user_code, ctx.ip);
    const status = await decideDeviceGrant(deps, grant.id, ctx.state.messengerUser!, body.decision);
    ctx.body = { status, client_id: app.client_id, client_name: app.name, scopes: grant.scopes } satisfies z.input<typeof DeviceDecisionAnswer>;
  });

  router.post('/introspect', doc.introspect, limit('tep_validation'), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      const client = await clientOf(deps, ctx, form);
      return introspectToken(deps, client, field(form, 'token', true)!);
    });
  });

  router.post('/revoke', doc.revoke, limit('tep_validation'), async (ctx) => {
    await oauthAnswer(ctx, async () => {
      const form = oauthForm(ctx);
      const client = await clientOf(deps, ctx, form);
      await revokeToken(deps, client, field(form, 'token', true)!);
      ctx.state.log.info({ client_id: client.client_id }, 'token revoked by its client');
      return {};
    });
  });

  return router;
}

/**
 * RFC 8414 metadata, so an OAuth client library configures itself: every endpoint, grant and
 * client authentication method this server has (a test follows each URL).
 */
export function discoveryRoutes(publicUrl: string): Router<AppState> {
  const router = new Router<AppState>();
  const at = (path: string) => `${publicUrl}${path}`;
  const metadata = {
    issuer: publicUrl,
    token_endpoint: at('/api/v1/oauth/token'),
    introspection_endpoint: at('/api/v1/oauth2/introspect'),
    revocation_endpoint: at('/api/v1/oauth2/revoke'),
    jwks_uri: at('/.well-known/jwks.json'),
    authorization_endpoint: at('/api/v1/oauth/authorize'),
    device_authorization_endpoint: at('/api/v1/oauth2/device/authorization'),
    grant_types_supported: ['authorization_code', TOKEN_EXCHANGE_GRANT, DEVICE_CODE_GRANT, 'refresh_token'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ALL_SCOPES,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
  } satisfies z.input<typeof AuthorizationServerMetadata>;
  router.get('/.well-known/oauth-authorization-server', doc.metadata, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = metadata;
  });
  return router;
}

/** PROTO 5.6: the user's messenger withdraws a mini-app's access (`POST /api/v1/auth/revoke`). */
export function authRevokeRoutes(deps: ConsentDeps & WebhookStarterDeps, messenger: CallerGates['messenger'], limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/auth' });
  router.post('/revoke', doc.revokeAccess, messenger('user:read'), limit('default'), async (ctx) => {
    const body = parseInput(RevokeBody, ctx.request.body ?? {});
    ctx.body = await revokeMiniappAccess(deps, ctx.state.messengerUser!, body.client_id);
    ctx.state.log.info({ client_id: body.client_id }, 'mini-app access revoked by the user');
  });
  return router;
}
