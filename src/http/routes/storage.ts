import Router from '@koa/router';
import { z } from 'zod';
import type { Namespace } from '../../db/storage';
import { batch, batchGet, batchSet, createValue, deleteValue, getValue, listKeys, putValue, storageInfo, TTL_RANGE, type StorageDeps, type StorageItem } from '../../storage/storage';
import { UnixSeconds, WholeNumber, WholeNumberText } from '../schemas';
import type { CallerGates } from '../middleware/auth';
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
const ListQuery = z.object({ prefix: z.string().max(1024).optional(), limit: WholeNumberText(1, 1000).optional(), cursor: z.string().max(2048).optional() }).strict();

type ItemBody = z.infer<typeof Item>;
const asItem = (b: ItemBody): StorageItem => ({ key: b.key, value: b.value, ttl: b.ttl, contentType: b.metadata?.content_type, clientTimestamp: b.client_timestamp });

/** The namespace is always the token's mini-app and user, never a parameter (PROTO 10.3.1). */
const namespaceOf = (ctx: AppContext): Namespace => ({ clientId: ctx.state.tep!.clientId, userId: ctx.state.tep!.userId });
const etag = (ctx: AppContext, version: number) => ctx.set('ETag', `"${version}"`);

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

  router.get('/', ...read, async (ctx) => {
    const q = parseInput(ListQuery, ctx.query);
    ctx.body = await listKeys(deps, namespaceOf(ctx), q);
  });

  router.post('/', ...write, async (ctx) => {
    const body = parseInput(Item, ctx.request.body ?? {});
    const created = await createValue(deps, namespaceOf(ctx), asItem(body));
    etag(ctx, created.version);
    ctx.status = 201;
    ctx.body = created;
  });

  router.get('/info', ...read, async (ctx) => {
    ctx.body = await storageInfo(deps, namespaceOf(ctx));
  });

  router.post('/batch/get', ...batchRead, async (ctx) => {
    const body = parseInput(z.object({ keys: Keys }).strict(), ctx.request.body ?? {});
    ctx.body = await batchGet(deps, namespaceOf(ctx), body.keys);
  });

  router.post('/batch/set', ...batchWrite, async (ctx) => {
    const body = parseInput(z.object({ items: z.array(Item) }).strict(), ctx.request.body ?? {});
    ctx.body = await batchSet(deps, namespaceOf(ctx), body.items.map(asItem));
  });

  router.post('/batch', ...batchWrite, async (ctx) => {
    const body = parseInput(BatchBody, ctx.request.body ?? {});
    ctx.body = await batch(deps, namespaceOf(ctx), { get: body.get, set: body.set?.map(asItem), delete: body.delete });
  });

  router.get('/:key', ...read, async (ctx) => {
    const found = await getValue(deps, namespaceOf(ctx), ctx.params.key!);
    etag(ctx, found.version);
    ctx.body = found;
  });

  router.put('/:key', ...write, async (ctx) => {
    const body = parseInput(PutBody, ctx.request.body ?? {});
    const result = await putValue(deps, namespaceOf(ctx), asItem({ key: ctx.params.key!, ...body }), ctx.get('if-match') || undefined);
    if (!result.conflict) etag(ctx, result.body.version);
    ctx.body = result.body;
  });

  router.delete('/:key', ...remove, async (ctx) => {
    ctx.body = await deleteValue(deps, namespaceOf(ctx), ctx.params.key!, ctx.get('if-match') || undefined);
  });

  return router;
}
