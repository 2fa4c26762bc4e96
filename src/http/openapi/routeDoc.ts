import type { Middleware } from 'koa';
import type { z } from 'zod';
import type { AppState } from '../state';

/**
 * Who may call a route: docs/security.md's caller column, and in /openapi.json a security scheme
 * and a tag each (the fuzzer runs each tag with its own kind of credential).
 */
export const CALLERS = {
  anyone: 'No credential.',
  'mini-app': "A mini-app's TEP token (`Authorization: Bearer tep.…`), carrying the route's scope.",
  matrix: "The user's Matrix access token from the messenger (`Authorization: Bearer syt_…`), checked at the homeserver.",
  messenger: "A TEP token of the messenger itself (the first-party client): the user's own app.",
  merchant: "A mini-app's backend: HTTP Basic with its client id and secret (the app itself when confidential, or its `<client_id>_backend` twin).",
  developer: "A mini-app developer (PROTO 4.4): `Authorization: Bearer dev_…`, from an operator's enrolment or /oauth2/developer/token.",
  operator: 'The operator: `Authorization: Bearer <ADMIN_TOKEN>`.',
  synapse: "The homeserver: `Authorization: Bearer <hs_token>` of the Application Service registration.",
  provider: 'A payment or wallet provider: its signature over the raw body, in its own header.',
  client: "An OAuth client: its client id (and a confidential client's secret, in HTTP Basic or the form); or a developer's grant at /oauth2/developer/token.",
  browser: "The user's browser on the server's own pages: the sign-in cookie and the page's CSRF token.",
} as const;
export type Caller = keyof typeof CALLERS;

/** A documented answer: a JSON body's schema, no body, an HTML page, or another media type (any text). */
export type ResponseDoc = z.ZodTypeAny | 'empty' | 'html' | { contentType: string };

export interface RouteDoc {
  summary: string;
  callers: readonly Caller[];
  /** The path parameters as validated; a plain string each when left out. */
  params?: z.AnyZodObject;
  query?: z.AnyZodObject;
  /** A JSON body. */
  body?: z.ZodTypeAny;
  /** An `application/x-www-form-urlencoded` body (OAuth endpoints take either, RFC 6749). */
  form?: z.ZodTypeAny;
  /** The answers that are not errors; errors are PROTO 12.1's body (the Matrix one for Synapse's routes). */
  responses: Record<number, ResponseDoc>;
}

export type DocumentedMiddleware = Middleware<AppState> & { routeDoc: RouteDoc };

/**
 * Describes the route it is mounted on, for /openapi.json (src/http/openapi/document.ts), beside
 * the handler that uses the same schemas. It passes every request on untouched.
 */
export function documented(doc: RouteDoc): DocumentedMiddleware {
  const pass: Middleware<AppState> = (_ctx, next) => next();
  return Object.assign(pass, { routeDoc: doc });
}
