import Router from '@koa/router';
import { z } from 'zod';
import type { Config } from '../../config';
import { DomainError } from '../../domain/errors';
import { isScope, type Scope } from '../../domain/scopes';
import { login, loginFlows, logout, MatrixRequestError } from '../../matrix/client';
import {
  checkAuthorizationRequest,
  issueAuthorizationCode,
  redirectBack,
  scopesToApprove,
  type AuthorizeParams,
  type AuthorizationRequest,
} from '../../oauth/authorizationCode';
import { decideDeviceGrant, DEVICE_VERIFICATION_PATH, grantForUserCode, type DeviceGrantDeps } from '../../oauth/deviceGrant';
import type { WalletDeps } from '../../wallet/wallets';
import { csrfToken, csrfValid, pageHeaders, setSignedIn, signedInUser, startSsoState, takeSsoState, type BrowserKeys } from '../pages/browser';
import { consentPage, deviceDecisionPage, enterCodePage, messagePage, signInPage } from '../pages/templates';
import type { RateLimit } from '../middleware/rateLimit';
import { documented } from '../openapi/routeDoc';
import type { AppContext, AppState } from '../state';

export interface OAuthPageDeps extends DeviceGrantDeps, WalletDeps {
  config: DeviceGrantDeps['config'] & WalletDeps['config'] & Pick<Config, 'matrix'>;
  browserKeys: BrowserKeys;
}

const AUTHORIZE_PATH = '/api/v1/oauth/authorize';
/** PROTO 4.3.3's path of the same page. */
const PROTO_AUTHORIZE_PATH = '/oauth2/authorize';
const SIGN_IN_PATH = '/api/v1/oauth/signin';
const SSO_CALLBACK_PATH = '/api/v1/oauth/signin/sso/callback';
const AUTHORIZE_FIELDS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method'] as const;

/*
 * The pages' queries and forms, for /openapi.json only: the handlers read each field with text()
 * and answer a bad one with a page for the user, not a 400 of PROTO's.
 */
const Field = z.string().min(1);
/** An empty field is the same as none. */
const OptionalField = z.string().optional();
/** One of our two pages a sign-in goes back to; anything else goes back to the device page. */
const ReturnTo = z.string().max(4096).optional();
const Csrf = Field.describe("The page's CSRF token (its form's hidden field)");
const Decision = z.enum(['approve', 'deny']);
/** RFC 6749 4.1.1 with PKCE (RFC 7636), which this server requires. */
const AuthorizeQuery = z.object({
  client_id: Field,
  redirect_uri: Field,
  response_type: z.literal('code'),
  scope: OptionalField,
  state: OptionalField,
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code_challenge_method: z.literal('S256'),
} satisfies Record<(typeof AUTHORIZE_FIELDS)[number], z.ZodTypeAny>);

const doc = {
  signIn: documented({
    summary: 'Sign in with the Matrix password (checked at the homeserver); back to the page that asked',
    callers: ['browser'],
    form: z.object({ csrf: Csrf, return_to: ReturnTo, username: Field, password: Field }),
    responses: { 303: 'empty' },
  }),
  sso: documented({ summary: "Sign in with the homeserver's single sign-on: off to the homeserver", callers: ['browser'], query: z.object({ return_to: ReturnTo }), responses: { 302: 'empty' } }),
  ssoCallback: documented({
    summary: 'Back from single sign-on with a login token; back to the page that asked',
    callers: ['browser'],
    query: z.object({ loginToken: Field, state: Field, return_to: ReturnTo }),
    responses: { 303: 'empty' },
  }),
  devicePage: documented({
    summary: "The device grant's page (RFC 8628 3.3): enter the code, sign in, then approve or deny",
    callers: ['browser'],
    query: z.object({ user_code: OptionalField }),
    responses: { 200: 'html' },
  }),
  deviceDecision: documented({
    summary: "The user's answer to a device's request",
    callers: ['browser'],
    form: z.object({ csrf: Csrf, user_code: Field, decision: Decision }),
    responses: { 200: 'html' },
  }),
  authorize: documented({
    summary: 'The authorization endpoint (RFC 6749 4.1, PKCE): sign in, consent where needed, back to the app with a code',
    callers: ['browser'],
    query: AuthorizeQuery,
    responses: { 200: 'html', 303: 'empty' },
  }),
  authorizeDecision: documented({
    summary: "The user's answer on the consent page: back to the app with a code, or access_denied",
    callers: ['browser'],
    form: AuthorizeQuery.extend({ csrf: Csrf, decision: Decision }),
    responses: { 303: 'empty' },
  }),
};

/** The pages a sign-in may return to: ours, and only these two (no open redirect). */
function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 4096) return undefined;
  let url: URL;
  try {
    url = new URL(value, 'http://return.invalid');
  } catch {
    return undefined;
  }
  if (url.origin !== 'http://return.invalid' || ![DEVICE_VERIFICATION_PATH, AUTHORIZE_PATH].includes(url.pathname)) return undefined;
  return `${url.pathname}${url.search}`;
}

/** One text field of a query or form: the first value, if a string. */
function text(source: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = source?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

/** 303 See Other: the browser follows with a GET, whether the page was a GET or a form's POST. */
function seeOther(ctx: AppContext, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

function show(ctx: AppContext, status: number, body: string, formTargets: readonly string[] = []): void {
  pageHeaders(ctx, formTargets);
  ctx.status = status;
  ctx.body = body;
}

/** Origins a consent form may end up at (its answer redirects there): CSP form-action covers redirects. */
function originOf(uri: string): string[] {
  try {
    return [new URL(uri).origin];
  } catch {
    return [];
  }
}

/**
 * The pages of the device grant and the authorization endpoint (server-rendered, no JavaScript):
 * entering a user code, signing in with the Matrix account at the homeserver (its single sign-on,
 * or a password that goes only to its /login), approving or denying. Forms carry a CSRF token; a
 * sign-in lasts ten minutes in an HttpOnly cookie.
 */
export function oauthPageRoutes(deps: OAuthPageDeps, limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>();
  const homeserver = deps.config.matrix?.homeserverUrl;
  const publicUrl = deps.config.http.publicUrl;

  /** The sign-in page for `returnTo`, offering what the homeserver offers. */
  async function signIn(ctx: AppContext, returnTo: string, status = 200, error?: string, formTargets: readonly string[] = []): Promise<void> {
    if (!homeserver) return show(ctx, 503, messagePage('Sign-in unavailable', 'No Matrix homeserver is configured for this server.'));
    let flows: string[];
    try {
      flows = await loginFlows(homeserver);
    } catch (err) {
      ctx.state.log.warn({ err }, 'homeserver login flows unavailable');
      return show(ctx, 503, messagePage('Sign-in unavailable', 'Your homeserver cannot be reached right now. Try again in a moment.'));
    }
    const ssoHref = flows.includes('m.login.sso') ? `/api/v1/oauth/signin/sso?${new URLSearchParams({ return_to: returnTo })}` : undefined;
    show(ctx, status, signInPage({ returnTo, csrf: csrfToken(ctx, deps.browserKeys), ssoHref, password: flows.includes('m.login.password'), error, homeserver }), formTargets);
  }

  /** Refuses a form without this browser's CSRF token. */
  function requireCsrf(ctx: AppContext, form: Record<string, unknown>): boolean {
    if (csrfValid(ctx, deps.browserKeys, form.csrf)) return true;
    show(ctx, 403, messagePage('Form expired', 'This form is no longer valid. Go back, reload the page and try again.'));
    return false;
  }

  /** Signs the user in from a fresh Matrix session, which is ended at once: we needed only to know who they are. */
  async function adoptSession(ctx: AppContext, session: { userId: string; accessToken: string }): Promise<void> {
    await logout(homeserver!, session.accessToken).catch((err: unknown) => ctx.state.log.warn({ err }, 'could not log out the sign-in check session'));
    await setSignedIn(ctx, deps.browserKeys, session.userId);
    ctx.state.log.info({ user_id: session.userId }, 'user signed in on the OAuth pages');
  }

  // ---- signing in ----

  router.post(SIGN_IN_PATH, doc.signIn, limit('token'), async (ctx) => {
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    const returnTo = safeReturnTo(text(form, 'return_to')) ?? DEVICE_VERIFICATION_PATH;
    if (!requireCsrf(ctx, form)) return;
    if (!homeserver) return signIn(ctx, returnTo);
    const user = text(form, 'username');
    const password = text(form, 'password');
    if (!user || !password) return signIn(ctx, returnTo, 400, 'Enter your user name and password.');
    try {
      await adoptSession(ctx, await login(homeserver, { type: 'm.login.password', user, password }));
    } catch (err) {
      if (!(err instanceof MatrixRequestError)) throw err;
      if (err.status === 403 || err.status === 400 || err.status === 401) return signIn(ctx, returnTo, 401, 'Wrong user name or password.');
      if (err.status === 429) return signIn(ctx, returnTo, 429, 'Too many attempts. Wait a minute and try again.');
      ctx.state.log.warn({ status: err.status }, 'homeserver login failed');
      return signIn(ctx, returnTo, 503, 'Your homeserver cannot be reached right now. Try again in a moment.');
    }
    seeOther(ctx, returnTo);
  });

  router.get('/api/v1/oauth/signin/sso', doc.sso, limit('default'), async (ctx) => {
    const returnTo = safeReturnTo(text(ctx.query, 'return_to')) ?? DEVICE_VERIFICATION_PATH;
    if (!homeserver) return signIn(ctx, returnTo);
    const callback = `${publicUrl}${SSO_CALLBACK_PATH}?${new URLSearchParams({ state: startSsoState(ctx), return_to: returnTo })}`;
    ctx.redirect(`${homeserver}/_matrix/client/v3/login/sso/redirect?${new URLSearchParams({ redirectUrl: callback })}`);
  });

  router.get(SSO_CALLBACK_PATH, doc.ssoCallback, limit('default'), async (ctx) => {
    const returnTo = safeReturnTo(text(ctx.query, 'return_to')) ?? DEVICE_VERIFICATION_PATH;
    const loginToken = text(ctx.query, 'loginToken');
    // The state cookie proves this browser started the round trip: a login token planted by someone else is refused.
    if (!homeserver || !loginToken || !takeSsoState(ctx, text(ctx.query, 'state'))) return signIn(ctx, returnTo, 400, 'Single sign-on did not complete. Try again.');
    try {
      await adoptSession(ctx, await login(homeserver, { type: 'm.login.token', token: loginToken }));
    } catch (err) {
      if (!(err instanceof MatrixRequestError)) throw err;
      return signIn(ctx, returnTo, 401, 'Single sign-on did not complete. Try again.');
    }
    seeOther(ctx, returnTo);
  });

  // ---- the device grant's page (RFC 8628 3.3) ----

  router.get(DEVICE_VERIFICATION_PATH, doc.devicePage, limit('default'), async (ctx) => {
    const typed = text(ctx.query, 'user_code');
    if (!typed) return show(ctx, 200, enterCodePage({}));
    let pending;
    try {
      pending = await grantForUserCode(deps, typed, ctx.ip);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      return show(ctx, err.status, enterCodePage({ typed, error: err.code === 'RATE_LIMIT_EXCEEDED' ? 'Too many wrong codes. Try again later.' : 'That code is not valid, or it has expired.' }));
    }
    const userId = await signedInUser(ctx, deps.browserKeys);
    if (!userId) return signIn(ctx, `${DEVICE_VERIFICATION_PATH}?${new URLSearchParams({ user_code: pending.userCode })}`);
    show(
      ctx,
      200,
      deviceDecisionPage({
        appName: pending.app.name,
        clientId: pending.app.client_id,
        scopes: pending.grant.scopes.filter(isScope),
        userCode: pending.userCode,
        userId,
        csrf: csrfToken(ctx, deps.browserKeys),
      }),
    );
  });

  router.post(DEVICE_VERIFICATION_PATH, doc.deviceDecision, limit('token'), async (ctx) => {
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!requireCsrf(ctx, form)) return;
    const typed = text(form, 'user_code') ?? '';
    const decision = text(form, 'decision');
    const userId = await signedInUser(ctx, deps.browserKeys);
    if (!userId) return signIn(ctx, `${DEVICE_VERIFICATION_PATH}?${new URLSearchParams({ user_code: typed })}`, 401, 'Your sign-in has expired. Sign in again.');
    if (decision !== 'approve' && decision !== 'deny') return show(ctx, 400, messagePage('Choose an answer', 'Approve or deny the request.'));
    try {
      const { grant, app } = await grantForUserCode(deps, typed, ctx.ip);
      const status = await decideDeviceGrant(deps, grant.id, userId, decision);
      show(
        ctx,
        200,
        status === 'approved'
          ? messagePage('Device connected', `${app.name} is connected. You can return to your device.`)
          : messagePage('Request denied', `${app.name} was not given access.`),
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      show(ctx, err.status, messagePage('Not done', err.code === 'INVALID_STATE' ? 'This code was already used.' : 'That code is not valid any more. Start again on your device.'));
    }
  });

  // ---- the authorization endpoint (RFC 6749 4.1, PKCE) ----

  /** Checks the request, then signs in, asks consent where needed, and redirects back with a code or an error. */
  async function authorize(ctx: AppContext, params: AuthorizeParams, decision: string | undefined): Promise<void> {
    const checked = await checkAuthorizationRequest(deps, params);
    if (checked.kind === 'page') return show(ctx, 400, messagePage('Cannot continue', checked.message));
    if (checked.kind === 'redirect') return seeOther(ctx, checked.location);
    const request = checked.request;
    const userId = await signedInUser(ctx, deps.browserKeys);
    if (!userId) {
      // Signing in may end in the redirect back to the app (nothing to approve): CSP form-action must allow it.
      const returnTo = `${AUTHORIZE_PATH}?${new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined))}`;
      return signIn(ctx, returnTo, decision ? 401 : 200, decision ? 'Your sign-in has expired. Sign in again.' : undefined, originOf(request.redirectUri));
    }
    if (decision === 'deny') return seeOther(ctx, redirectBack(request.redirectUri, { error: 'access_denied', error_description: 'The user denied the request', state: request.state }));
    const toApprove = await scopesToApprove(deps, request, userId);
    if (toApprove.length > 0 && decision !== 'approve') return askConsent(ctx, request, params, toApprove, userId);
    const location = await issueAuthorizationCode(deps, request, userId);
    ctx.state.log.info({ client_id: request.client.client_id, user_id: userId, scopes: request.scopes }, 'authorization code issued');
    seeOther(ctx, location);
  }

  function askConsent(ctx: AppContext, request: AuthorizationRequest, params: AuthorizeParams, toApprove: Scope[], userId: string): void {
    show(
      ctx,
      200,
      consentPage({
        appName: request.client.name,
        clientId: request.client.client_id,
        toApprove,
        alreadyGranted: request.scopes.filter((s) => !toApprove.includes(s)),
        userId,
        csrf: csrfToken(ctx, deps.browserKeys),
        request: params,
      }),
      originOf(request.redirectUri),
    );
  }

  const paramsOf = (source: Record<string, unknown>): AuthorizeParams => Object.fromEntries(AUTHORIZE_FIELDS.map((name) => [name, text(source, name)]));

  router.get([AUTHORIZE_PATH, PROTO_AUTHORIZE_PATH], doc.authorize, limit('default'), (ctx) => authorize(ctx, paramsOf(ctx.query), undefined));

  router.post([AUTHORIZE_PATH, PROTO_AUTHORIZE_PATH], doc.authorizeDecision, limit('default'), async (ctx) => {
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!requireCsrf(ctx, form)) return;
    const decision = text(form, 'decision');
    if (decision !== 'approve' && decision !== 'deny') return show(ctx, 400, messagePage('Choose an answer', 'Approve or deny the request.'));
    // Every field is checked again: the form's hidden copies are the browser's, not ours.
    await authorize(ctx, paramsOf(form), decision);
  });

  return router;
}
