import Router from '@koa/router';
import { z } from 'zod';
import type { Namespace } from '../../db/storage';
import { batch, batchGet, batchSet, createValue, deleteValue, getValue, listKeys, putValue, storageInfo, TTL_RANGE, type StorageDeps, type StorageItem } from '../../storage/storage';
import { UnixSeconds, WholeNumber, WholeNumberText } from '../schemas';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { BatchAnswer, BatchGot, BatchSetAnswer, Deleted, KeyList, PutAnswer, StorageInfo, StoredValue } from '../responses/storage';
import type { RateLimit } from '../middleware/rateLimit';
import type { BodyParsers } from '../middleware/bodies';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

const Value = z.string({ invalid_type_error: 'must be a string (serialize JSON to a string)' });
const Metadata = z.object({ content_type: z.string().min(1).max(128).optional() }).strict();
const Fields = { value: Value, ttl: WholeNumber(TTL_RANGE[0], TTL_RANGE[1]).optional(), metadata: Metadata.optional(), client_timestamp: UnixSeconds.optional() };
const Item = z.object({ key: z.string(), ...Fields }).strict();
const PutBody = z.object(Fields).strict();
const Keys = z.array(z.string());
const BatchBody = z.object({ get: Keys.optional(), set: z.array(Item).optional(), delete: Keys.optional() }).strict();
const BatchGetBody = z.object({ keys: Keys }).strict();
const BatchSetBody = z.object({ items: z.array(Item) }).strict();
const ListQuery = z.object({ prefix: z.string().max(1024).optional(), limit: WholeNumberText(1, 1000).optional(), cursor: z.string().max(2048).optional() }).strict();

type ItemBody = z.infer<typeof Item>;
const asItem = (b: ItemBody): StorageItem => ({ key: b.key, value: b.value, ttl: b.ttl, contentType: b.metadata?.content_type, clientTimestamp: b.client_timestamp });

/** The namespace is always the token's mini-app and user, never a parameter (PROTO 10.3.1). */
const namespaceOf = (ctx: AppContext): Namespace => ({ clientId: ctx.state.tep!.clientId, userId: ctx.state.tep!.userId });
const etag = (ctx: AppContext, version: number) => ctx.set('ETag', `"${version}"`);

const doc = {
  list: documented({ summary: "The caller's keys in byte order, without values, a page at a time", callers: ['mini-app'], query: ListQuery, responses: { 200: KeyList } }),
  create: documented({ summary: 'Store a value under a new key (a key that exists is 409: PUT replaces)', callers: ['mini-app'], body: Item, responses: { 201: StoredValue } }),
  info: documented({ summary: "The caller's usage and the limits on it", callers: ['mini-app'], responses: { 200: StorageInfo } }),
  batchGet: documented({ summary: 'Read up to 100 keys; the ones not there are listed as missing', callers: ['mini-app'], body: BatchGetBody, responses: { 200: BatchGot } }),
  batchSet: documented({ summary: 'Write up to 100 values, all or none', callers: ['mini-app'], body: BatchSetBody, responses: { 200: BatchSetAnswer } }),
  batch: documented({ summary: 'Reads, writes and deletes in one request (up to 100); the writes and deletes all or none', callers: ['mini-app'], body: BatchBody, responses: { 200: BatchAnswer } }),
  get: documented({ summary: 'A value (its version also as the ETag)', callers: ['mini-app'], responses: { 200: StoredValue } }),
  put: documented({
    summary: "Create or replace a value (If-Match: 412 when the version differs); a write older than the stored one is answered with the server's value",
    callers: ['mini-app'],
    body: PutBody,
    responses: { 200: PutAnswer },
  }),
  remove: documented({ summary: 'Delete a value (If-Match: 412 when the version differs)', callers: ['mini-app'], responses: { 200: Deleted } }),
};

const STORAGE_PREFIX = '/api/v1/storage';
/** The paths of the storage routes, whose bodies the app does not parse before them. */
export const STORAGE_PATH = /^\/api\/v1\/storage(\/|$)/;

/**
 * Mini-app storage (PROTO 10.3; the original README's routes and PROTO's batch routes). Keys are
 * URL-encoded in paths (`/`, `:` and spaces allowed); `info` and `batch` name routes, so keys with
 * those names are read through `POST /storage/batch/get`.
 */
export function storageRoutes(deps: StorageDeps, auth: CallerGates['tep'], bodies: BodyParsers, limit: RateLimit): Router<AppState> {
  const router = new Router<AppState>({ prefix: STORAGE_PREFIX });
  // The app leaves these routes' bodies unread: each is parsed after the caller is authenticated.
  const read = [auth('storage:read'), limit('storage'), bodies.small];
  const write = [auth('storage:write'), limit('storage'), bodies.large];
  const remove = [auth('storage:write'), limit('storage'), bodies.small];
  const batchRead = [auth('storage:read'), limit('storage_batch'), bodies.small];
  const batchWrite = [auth('storage:write'), limit('storage_batch'), bodies.large];

  router.get('/', doc.list, ...read, async (ctx) => {
    const q = parseInput(ListQuery, ctx.query, 'query');
    ctx.body = await listKeys(deps, namespaceOf(ctx), q);
  });

  router.post('/', doc.create, ...write, async (ctx) => {
    const body = parseInput(Item, ctx.request.body ?? {});
    const created = await createValue(deps, namespaceOf(ctx), asItem(body));
    etag(ctx, created.version);
    ctx.status = 201;
    ctx.body = created;
  });

  router.get('/info', doc.info, ...read, async (ctx) => {
    ctx.body = await storageInfo(deps, namespaceOf(ctx));
  });

  router.post('/batch/get', doc.batchGet, ...batchRead, async (ctx) => {
    const body = parseInput(BatchGetBody, ctx.request.body ?? {});
    ctx.body = await batchGet(deps, namespaceOf(ctx), body.keys);
  });

  router.post('/batch/set', doc.batchSet, ...batchWrite, async (ctx) => {
    const body = parseInput(BatchSetBody, ctx.request.body ?? {});
    ctx.body = await batchSet(deps, namespaceOf(ctx), body.items.map(asItem));
  });

  router.post('/batch', doc.batch, ...batchWrite, async (ctx) => {
    const body = parseInput(BatchBody, ctx.request.body ?? {});
    ctx.body = await batch(deps, namespaceOf(ctx), { get: body.get, set: body.set?.map(asItem), delete: body.delete });
  });

  router.get('/:key', doc.get, ...read, async (ctx) => {
    const found = await getValue(deps, namespaceOf(ctx), ctx.params.key!);
    etag(ctx, found.version);
    ctx.body = found;
  });

  router.put('/:key', doc.put, ...write, async (ctx) => {
    const body = parseInput(PutBody, ctx.request.body ?? {});
    const result = await putValue(deps, namespaceOf(ctx), asItem({ key: ctx.params.key!, ...body }), ctx.get('if-match') || undefined);
    if (!result.conflict) etag(ctx, result.body.version);
    ctx.body = result.body;
  });

  router.delete('/:key', doc.remove, ...remove, async (ctx) => {
    ctx.body = await deleteValue(deps, namespaceOf(ctx), ctx.params.key!, ctx.get('if-match') || undefined);
  });

  return router;
}
