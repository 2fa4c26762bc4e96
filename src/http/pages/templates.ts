import type { Scope } from '../../domain/scopes';
import { html, page, type Safe } from './html';

/** What each scope lets a mini-app do, in the user's words (PROTO 5.2). */
const SCOPE_TEXT: Record<Scope, string> = {
  'user:read': 'See your Matrix user id and display name',
  'user:read:extended': 'See your extended profile',
  'user:read:contacts': 'See your contacts',
  'wallet:balance': 'See your wallet balance',
  'wallet:pay': 'Ask you to make payments from your wallet',
  'wallet:history': 'See your transaction history',
  'wallet:request': 'Ask you for money',
  'messaging:send': 'Send messages on your behalf',
  'messaging:read': 'Read messages in your rooms',
  'storage:read': 'Read data it keeps for you',
  'storage:write': 'Keep data for you',
  'webhook:send': 'Receive events about your activity',
  'room:create': 'Create rooms for you',
  'room:invite': 'Invite people to rooms for you',
};

const hidden = (fields: Record<string, string | undefined>) =>
  Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);

const errorLine = (error: string | undefined) => (error ? html`<p class="error" role="alert">${error}</p>` : undefined);

function scopeList(scopes: readonly Scope[]): Safe {
  return html`<ul>${scopes.map((s) => html`<li>${SCOPE_TEXT[s] ?? s} <span class="muted">(${s})</span></li>`)}</ul>`;
}

export function enterCodePage(opts: { error?: string; typed?: string }): string {
  return page(
    'Connect a device',
    html`<h1>Connect a device</h1>
<p>Enter the code shown on the device or mini-app.</p>
${errorLine(opts.error)}
<form method="get" action="/api/v1/oauth2/device">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${opts.typed ?? ''}" autocomplete="off" autocapitalize="characters" placeholder="XXXX-XXXX" required>
<button type="submit">Continue</button>
</form>`,
  );
}

export interface SignInView {
  returnTo: string;
  csrf: string;
  /** The homeserver offers single sign-on: a link that starts it. */
  ssoHref?: string;
  /** The homeserver takes passwords. */
  password: boolean;
  error?: string;
  homeserver: string;
}

export function signInPage(view: SignInView): string {
  return page(
    'Sign in',
    html`<h1>Sign in with your Matrix account</h1>
<p class="muted">Your password goes only to your homeserver (${view.homeserver}); TMCP never keeps it.</p>
${errorLine(view.error)}
${view.ssoHref ? html`<p><a href="${view.ssoHref}">Sign in with single sign-on</a></p>` : undefined}
${
  view.password
    ? html`<form method="post" action="/api/v1/oauth/signin">
${hidden({ csrf: view.csrf, return_to: view.returnTo })}
<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`
    : undefined
}`,
  );
}

export function deviceDecisionPage(view: { appName: string; clientId: string; scopes: readonly Scope[]; userCode: string; userId: string; csrf: string }): string {
  return page(
    'Approve device',
    html`<h1>${view.appName} wants to connect</h1>
<p>Code <code>${view.userCode}</code>. Only approve if this code is the one on your device.</p>
<p>Signed in as <strong>${view.userId}</strong>. <span class="muted">${view.appName} (${view.clientId}) will be able to:</span></p>
${scopeList(view.scopes)}
<form method="post" action="/api/v1/oauth2/device">
${hidden({ csrf: view.csrf, user_code: view.userCode })}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export function consentPage(view: {
  appName: string;
  clientId: string;
  toApprove: readonly Scope[];
  alreadyGranted: readonly Scope[];
  userId: string;
  csrf: string;
  request: Record<string, string | undefined>;
}): string {
  return page(
    'Approve access',
    html`<h1>${view.appName} asks for access</h1>
<p>Signed in as <strong>${view.userId}</strong>. <span class="muted">${view.appName} (${view.clientId}) asks to:</span></p>
${scopeList(view.toApprove)}
${view.alreadyGranted.length > 0 ? html`<p class="muted">It may already:</p>${scopeList(view.alreadyGranted)}` : undefined}
<form method="post" action="/api/v1/oauth/authorize">
${hidden({ ...view.request, csrf: view.csrf })}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export function messagePage(title: string, text: string): string {
  return page(title, html`<h1>${title}</h1><p>${text}</p>`);
}
