import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { apiDocument, openApiPath } from '../../src/http/openapi/document';
import { documented } from '../../src/http/openapi/routeDoc';
import type { AppState } from '../../src/http/state';

const info = { version: '1.0.0', publicUrl: 'http://tmcp.test' };

function appWith(build: (router: Router<AppState>) => void): Koa<AppState> {
  const app = new Koa<AppState>();
  const router = new Router<AppState>({ prefix: '/api/v1' });
  build(router);
  app.use(router.routes());
  return app;
}

describe('the generated API description', () => {
  it('refuses to leave out a mounted route that has no description', () => {
    const app = appWith((router) => {
      router.get('/described', documented({ summary: 'Described', callers: ['anyone'], responses: { 200: z.object({}) } }), (ctx) => (ctx.body = {}));
      router.post('/forgotten', (ctx) => (ctx.body = {}));
    });
    expect(() => apiDocument(app, info)).toThrow('routes without a description: POST /api/v1/forgotten');
  });

  it('refuses a description whose path parameters are not the path’s', () => {
    const app = appWith((router) => {
      router.get('/things/:thing_id', documented({ summary: 'A thing', callers: ['anyone'], params: z.object({ id: z.string() }), responses: { 200: z.object({}) } }), (ctx) => (ctx.body = {}));
    });
    expect(() => apiDocument(app, info)).toThrow('GET /api/v1/things/:thing_id: its description names the path parameters id, the path thing_id');
  });

  it('describes a route’s request, answers, errors and callers from its zod schemas', () => {
    const Body = z.object({ amount: z.number().int().min(1), note: z.string().max(140).optional() }).strict();
    const app = appWith((router) => {
      router.post('/things/:thing_id/pay', documented({ summary: 'Pay for a thing', callers: ['mini-app', 'matrix'], body: Body, responses: { 201: z.object({ paid: z.boolean() }) } }), (ctx) => (ctx.body = {}));
    });
    const doc = apiDocument(app, info);
    const op = (doc.paths as Record<string, Record<string, any>>)[openApiPath('/api/v1/things/:thing_id/pay')]!.post;
    expect(doc.openapi).toBe('3.1.0');
    expect(op.tags).toEqual(['mini-app', 'matrix']);
    expect(op.security).toEqual([{ 'mini-app': [] }, { matrix: [] }]);
    expect(op.parameters).toEqual([expect.objectContaining({ name: 'thing_id', in: 'path', required: true })]);
    expect(op.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      properties: { amount: { type: 'integer', minimum: 1 }, note: { type: 'string', maxLength: 140 } },
      required: ['amount'],
      additionalProperties: false,
    });
    expect(op.responses['201'].content['application/json'].schema).toMatchObject({ properties: { paid: { type: 'boolean' } } });
    expect(op.responses.default.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  it("documents a path parameter named for one of our ids with the id's pattern", () => {
    const app = appWith((router) => {
      router.get('/payments/:payment_id', documented({ summary: 'A payment', callers: ['mini-app'], responses: { 200: z.object({}) } }), (ctx) => (ctx.body = {}));
    });
    const params = (apiDocument(app, info).paths as Record<string, Record<string, any>>)['/api/v1/payments/{payment_id}']!.get.parameters;
    expect(params).toEqual([expect.objectContaining({ name: 'payment_id', schema: { type: 'string', pattern: '^pay_[a-z2-7]{24}$' } })]);
  });
});
