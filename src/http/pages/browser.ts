import { randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { createKeyedDigest, purposeKey } from '../../crypto/sealing';
import type { AppContext } from '../state';
import { STYLE_HASH } from './html';

/** How long a sign-in on our pages lasts: long enough to read a consent page, no longer. */
export const SIGN_IN_TTL_SECONDS = 600;
const SIGN_IN_COOKIE = 'tmcp_signin';
const CSRF_COOKIE = 'tmcp_csrf';
const SSO_STATE_COOKIE = 'tmcp_sso';
const COOKIE_PATH = '/api/v1';

export interface BrowserKeys {
  signIn: Uint8Array;
  /** The CSRF token of a browser's nonce. */
  csrf: (nonce: string) => string;
}

/** Keys of their own for the pages, derived from DATA_ENCRYPTION_KEY, so no new secret to configure. */
export function browserKeys(dataKey: Buffer): BrowserKeys {
  return { signIn: purposeKey(dataKey, 'browser-sign-in'), csrf: createKeyedDigest(dataKey, 'browser-csrf') };
}

function cookieOptions(ctx: AppContext, maxAgeSeconds: number) {
  return { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: ctx.protocol === 'https', maxAge: maxAgeSeconds * 1000, overwrite: true };
}

/** Headers of every page: no framing, no caching, no scripts, forms only to us (and to `formTargets`, where a form's answer redirects). */
export function pageHeaders(ctx: AppContext, formTargets: readonly string[] = []): void {
  ctx.set(
    'Content-Security-Policy',
    `default-src 'none'; style-src ${STYLE_HASH}; form-action 'self' ${formTargets.join(' ')}; frame-ancestors 'none'; base-uri 'none'`.replace(/\s+;/g, ';'),
  );
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'text/html; charset=utf-8';
}

/** Records the Matrix user who signed in on our pages, for SIGN_IN_TTL_SECONDS. */
export async function setSignedIn(ctx: AppContext, keys: BrowserKeys, userId: string): Promise<void> {
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime(`${SIGN_IN_TTL_SECONDS}s`).sign(keys.signIn);
  ctx.cookies.set(SIGN_IN_COOKIE, token, cookieOptions(ctx, SIGN_IN_TTL_SECONDS));
}

/** The user signed in on this browser, if any. */
export async function signedInUser(ctx: AppContext, keys: BrowserKeys): Promise<string | undefined> {
  const token = ctx.cookies.get(SIGN_IN_COOKIE);
  if (!token) return undefined;
  try {
    const { payload } = await jwtVerify(token, keys.signIn, { algorithms: ['HS256'] });
    return payload.sub;
  } catch {
    return undefined;
  }
}

export function signOut(ctx: AppContext): void {
  ctx.cookies.set(SIGN_IN_COOKIE, null, cookieOptions(ctx, 0));
}

/**
 * The CSRF token of this browser's forms: an HMAC of a random value kept in an HttpOnly cookie
 * (set here when absent). Another site can make the browser send the cookie, but cannot read the token.
 */
export function csrfToken(ctx: AppContext, keys: BrowserKeys): string {
  let nonce = ctx.cookies.get(CSRF_COOKIE);
  if (!nonce || !/^[A-Za-z0-9_-]{22,64}$/.test(nonce)) {
    nonce = randomBytes(18).toString('base64url');
    ctx.cookies.set(CSRF_COOKIE, nonce, cookieOptions(ctx, 24 * 3600));
  }
  return keys.csrf(nonce);
}

/** True when a posted form carries this browser's CSRF token. */
export function csrfValid(ctx: AppContext, keys: BrowserKeys, presented: unknown): boolean {
  const nonce = ctx.cookies.get(CSRF_COOKIE);
  if (!nonce || typeof presented !== 'string') return false;
  const expected = Buffer.from(keys.csrf(nonce));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The state of one single sign-on round trip, bound to this browser so a login token from elsewhere is refused. */
export function startSsoState(ctx: AppContext): string {
  const state = randomBytes(18).toString('base64url');
  ctx.cookies.set(SSO_STATE_COOKIE, state, cookieOptions(ctx, SIGN_IN_TTL_SECONDS));
  return state;
}

export function takeSsoState(ctx: AppContext, presented: unknown): boolean {
  const expected = ctx.cookies.get(SSO_STATE_COOKIE);
  ctx.cookies.set(SSO_STATE_COOKIE, null, cookieOptions(ctx, 0));
  if (!expected || typeof presented !== 'string' || presented.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
}
