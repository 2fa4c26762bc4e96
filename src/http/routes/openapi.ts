import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { apiDocument } from '../openapi/document';
import { documented } from '../openapi/routeDoc';
import type { AppState } from '../state';

/** The API's version in /openapi.json: the paths' own (`/api/v1`). */
const API_VERSION = '1.0.0';

/**
 * `GET /openapi.json`: the OpenAPI 3.1 description of every route this app mounts (itself too),
 * generated once, on first request, from the routes' zod schemas.
 */
export function openApiRoutes(app: Koa<AppState>, publicUrl: string): Router<AppState> {
  const router = new Router<AppState>();
  let document: ReturnType<typeof apiDocument> | undefined;
  const doc = documented({
    summary: 'This API, described in OpenAPI 3.1',
    callers: ['anyone'],
    responses: { 200: z.object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }), paths: z.record(z.unknown()) }) },
  });
  router.get('/openapi.json', doc, (ctx) => {
    document ??= apiDocument(app, { version: API_VERSION, publicUrl });
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = document;
  });
  return router;
}
