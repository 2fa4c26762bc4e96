import { STATUS_CODES } from 'node:http';
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { ID_PREFIX, type IdKind } from '../../domain/ids';
import type { AppState } from '../state';
import { CALLERS, type Caller, type DocumentedMiddleware, type ResponseDoc, type RouteDoc } from './routeDoc';

// Path parameters are described through zod's `.openapi()`, which this adds to every schema.
extendZodWithOpenApi(z);

/** PROTO 12.1: every error this API answers, whatever the route. */
const ProtoError = z
  .object({
    error: z
      .object({
        code: z.string().openapi({ example: 'INVALID_REQUEST' }),
        message: z.string(),
        details: z.record(z.unknown()).optional(),
        timestamp: z.string(),
        request_id: z.string().optional(),
      })
      .passthrough(),
  })
  .openapi('Error');

/** RFC 6749 5.2: the OAuth endpoints' errors to clients. */
const OAuthError = z.object({ error: z.string(), error_description: z.string().optional() }).passthrough().openapi('OAuthError');

/** The Matrix error format, of the Application Service API. */
const MatrixError = z.object({ errcode: z.string(), error: z.string() }).passthrough().openapi('MatrixError');

const SECURITY_SCHEMES: Record<Exclude<Caller, 'anyone'>, { type: 'http'; scheme: 'bearer' | 'basic' } | { type: 'apiKey'; in: 'header' | 'cookie'; name: string }> = {
  'mini-app': { type: 'http', scheme: 'bearer' },
  matrix: { type: 'http', scheme: 'bearer' },
  messenger: { type: 'http', scheme: 'bearer' },
  merchant: { type: 'http', scheme: 'basic' },
  developer: { type: 'http', scheme: 'bearer' },
  operator: { type: 'http', scheme: 'bearer' },
  synapse: { type: 'http', scheme: 'bearer' },
  provider: { type: 'apiKey', in: 'header', name: 'X-Provider-Signature' },
  client: { type: 'http', scheme: 'basic' },
  browser: { type: 'apiKey', in: 'cookie', name: 'tmcp_session' },
};

export interface DocumentedRoute {
  method: string;
  /** As mounted: `/api/v1/wallet/p2p/:transfer_id`. */
  path: string;
  doc: RouteDoc | undefined;
  paramNames: string[];
}

/** Every route the app mounts, with the description its `documented(...)` middleware carries (or none). */
export function documentedRoutes(app: Koa<AppState>): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router<AppState> }).router;
    for (const layer of router?.stack ?? []) {
      if (typeof layer.path !== 'string') continue;
      const doc = layer.stack.find((m): m is DocumentedMiddleware => 'routeDoc' in m)?.routeDoc;
      const paramNames = layer.paramNames.map((p) => String(p.name));
      for (const method of layer.methods) if (method !== 'HEAD') routes.push({ method, path: layer.path, doc, paramNames });
    }
  }
  return routes;
}

/** `/p2p/:transfer_id` → `/p2p/{transfer_id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function response(status: number, answer: ResponseDoc): ResponseConfig {
  const description = STATUS_CODES[status] ?? String(status);
  if (answer === 'empty') return { description };
  if (answer === 'html') return { description, content: { 'text/html': { schema: z.string() } } };
  if ('contentType' in answer) return { description, content: { [answer.contentType]: { schema: z.string() } } };
  return { description, content: { 'application/json': { schema: answer } } };
}

/** Path parameters named for one of our ids: documented with the id's pattern, so clients (and the fuzzer) know their shape. */
const ID_PARAMS: Record<string, IdKind> = {
  transfer_id: 'transfer',
  payment_id: 'payment',
  gift_id: 'gift',
  topup_id: 'topup',
  withdrawal_id: 'withdrawal',
  account_id: 'externalAccount',
  event_id: 'webhookEvent',
  suspension_id: 'suspension',
  wallet_id: 'wallet',
  txn_id: 'transaction',
};
const paramSchema = (name: string) => {
  const kind = ID_PARAMS[name];
  return kind ? z.string().regex(new RegExp(`^${ID_PREFIX[kind]}_[a-z2-7]{24}$`)) : z.string();
};

function routeConfig(route: DocumentedRoute, doc: RouteDoc): RouteConfig {
  const params = doc.params ?? z.object(Object.fromEntries(route.paramNames.map((name) => [name, paramSchema(name)])));
  const declared = Object.keys(params.shape).sort();
  if (declared.join() !== [...route.paramNames].sort().join()) {
    throw new Error(`${route.method} ${route.path}: its description names the path parameters ${declared.join(', ') || 'none'}, the path ${route.paramNames.join(', ') || 'none'}`);
  }
  const bodies = {
    ...(doc.body ? { 'application/json': { schema: doc.body } } : {}),
    ...(doc.form ? { 'application/x-www-form-urlencoded': { schema: doc.form } } : {}),
  };
  // Synapse is answered in Matrix's format, OAuth clients in RFC 6749's (or PROTO's, before the grant
  // is read), browsers on the pages in HTML.
  const errors = doc.callers.includes('synapse') ? MatrixError : doc.callers.includes('client') ? z.union([ProtoError, OAuthError]) : ProtoError;
  const errorPages = doc.callers.includes('browser') ? { 'text/html': { schema: z.string() } } : {};
  return {
    method: route.method.toLowerCase() as RouteConfig['method'],
    path: openApiPath(route.path),
    summary: doc.summary,
    tags: [...doc.callers],
    security: doc.callers.map((caller) => (caller === 'anyone' ? {} : { [caller]: [] })),
    request: {
      ...(route.paramNames.length > 0 ? { params } : {}),
      ...(doc.query ? { query: doc.query } : {}),
      ...(Object.keys(bodies).length > 0 ? { body: { content: bodies, required: true } } : {}),
    },
    responses: {
      ...Object.fromEntries(Object.entries(doc.responses).map(([status, answer]) => [status, response(Number(status), answer)])),
      default: { description: "An error: PROTO 12.1's body (Matrix's to the homeserver, RFC 6749's to OAuth clients, a page to browsers).", content: { 'application/json': { schema: errors }, ...errorPages } },
    },
  };
}

/**
 * The OpenAPI 3.1 document of every mounted route, generated from the zod schemas the handlers
 * validate with. A route mounted without a description is an error here, so it cannot be missed.
 */
export function apiDocument(app: Koa<AppState>, info: { version: string; publicUrl: string }) {
  const registry = new OpenAPIRegistry();
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    registry.registerComponent('securitySchemes', name, { ...scheme, description: CALLERS[name as Caller] });
  }
  const undocumented: string[] = [];
  for (const route of documentedRoutes(app)) {
    if (route.doc) registry.registerPath(routeConfig(route, route.doc));
    else undocumented.push(`${route.method} ${route.path}`);
  }
  if (undocumented.length > 0) throw new Error(`routes without a description: ${undocumented.join(', ')}`);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'TMCP server',
      version: info.version,
      description: 'OAuth, wallet, payments and storage for Matrix mini-apps (PROTO). Each tag is a kind of caller; docs/security.md says who may call what.',
    },
    servers: [{ url: info.publicUrl }],
    tags: Object.entries(CALLERS).map(([name, description]) => ({ name, description })),
  });
}
