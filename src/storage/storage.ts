import type { Config } from '../config';
import { storageAad, type StorageCipher } from '../crypto/storageKeys';
import type { DatabasePool, DatabaseTransactionConnection } from '../db/pool';
import { deleteEntry, listEntries, liveEntries, lockNamespace, upsertEntry, usage, type Namespace, type StorageEntry } from '../db/storage';
import { DomainError, invalidField } from '../domain/errors';

export interface StorageDeps {
  pool: DatabasePool;
  cipher: StorageCipher;
  config: Pick<Config, 'storage'>;
}

export interface StorageItem {
  key: string;
  value: string;
  /** Seconds, 60 to 30 days; none: kept until deleted. */
  ttl?: number;
  contentType?: string;
  /** Unix seconds of the write on the client (PROTO 10.3.5): an older write loses to the stored value. */
  clientTimestamp?: number;
}

export const TTL_RANGE = [60, 30 * 86_400] as const;
const BATCH_MAX = 100;
const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

function checkKey(deps: StorageDeps, key: string, field = 'key'): void {
  const bytes = utf8(key);
  if (bytes === 0 || bytes > deps.config.storage.maxKeyBytes) throw invalidField(field, `must be 1 to ${deps.config.storage.maxKeyBytes} UTF-8 bytes`);
}

function checkItem(deps: StorageDeps, item: StorageItem, at = ''): void {
  checkKey(deps, item.key, `${at}key`);
  if (item.ttl !== undefined && (!Number.isInteger(item.ttl) || item.ttl < TTL_RANGE[0] || item.ttl > TTL_RANGE[1])) {
    throw invalidField(`${at}ttl`, `must be whole seconds from ${TTL_RANGE[0]} to ${TTL_RANGE[1]} (30 days)`);
  }
  const size = utf8(item.value);
  if (size > deps.config.storage.maxValueBytes) {
    throw new DomainError('STORAGE_QUOTA_EXCEEDED', `${at}value is larger than ${deps.config.storage.maxValueBytes} bytes`, { field: `${at}value`, size_bytes: size, max_value_bytes: deps.config.storage.maxValueBytes });
  }
}

/** A stored value as PROTO 10.3.2 shows it, decrypted, with its version (the ETag). */
function view(deps: StorageDeps, ns: Namespace, e: StorageEntry) {
  let value: string;
  try {
    value = deps.cipher.open(e.key_id, e.ciphertext, storageAad(ns.clientId, ns.userId, e.key));
  } catch {
    // Not this row's value (copied from another), or sealed under a key no longer configured.
    throw new DomainError('INTERNAL_ERROR', 'The stored value cannot be decrypted', { key: e.key, key_id: e.key_id });
  }
  return {
    key: e.key,
    value,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
    ...(e.expires_at ? { expires_at: e.expires_at.toISOString() } : {}),
    version: Number(e.version),
    metadata: { size_bytes: e.size_bytes, content_type: e.content_type ?? 'text/plain' },
  };
}
export type StorageView = ReturnType<typeof view>;

const notFound = (key: string) => new DomainError('NOT_FOUND', 'No such key', { key });

/** `If-Match` (RFC 9110): `*` or a list of entity tags; ours are `"<version>"`. */
export function matchesIfMatch(header: string | undefined, current: StorageEntry | undefined): boolean {
  if (header === undefined) return true;
  if (!current) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${current.version}"`);
}

async function one(db: DatabaseTransactionConnection | DatabasePool, ns: Namespace, key: string): Promise<StorageEntry | undefined> {
  const [found] = await liveEntries(db, ns, [key]);
  return found;
}

function quotaRefusal(deps: StorageDeps, now: { bytes: number; keys: number }, next: { bytes: number; keys: number }): DomainError | undefined {
  const { quotaBytes, maxKeys } = deps.config.storage;
  if (next.bytes <= quotaBytes && next.keys <= maxKeys) return undefined;
  return new DomainError('STORAGE_QUOTA_EXCEEDED', next.keys > maxKeys ? 'Storage key limit exceeded' : 'Storage quota exceeded', {
    current_usage_bytes: now.bytes,
    quota_bytes: quotaBytes,
    current_keys: now.keys,
    max_keys: maxKeys,
  });
}

/**
 * Writes items in a transaction that holds the namespace's lock (the caller took it): the quota is
 * counted on the live usage within the lock, so racing writes of one user cannot pass it. All or nothing.
 */
async function writeAll(deps: StorageDeps, tx: DatabaseTransactionConnection, ns: Namespace, items: readonly StorageItem[], opts: { mustBeNew?: boolean; ifMatch?: string } = {}) {
  const now = await usage(tx, ns);
  const existing = new Map((await liveEntries(tx, ns, items.map((i) => i.key))).map((e) => [e.key, e]));
  const next = { ...now };
  for (const item of items) {
    const current = existing.get(item.key);
    if (opts.mustBeNew && current) throw new DomainError('KEY_EXISTS', 'The key exists; PUT replaces it', { field: 'key', key: item.key });
    if (!matchesIfMatch(opts.ifMatch, current)) throw new DomainError('PRECONDITION_FAILED', 'The stored version differs from If-Match', { key: item.key, ...(current ? { version: Number(current.version) } : {}) });
    next.bytes += utf8(item.value) - (current?.size_bytes ?? 0);
    next.keys += current ? 0 : 1;
  }
  const refusal = quotaRefusal(deps, now, next);
  if (refusal) throw refusal;
  const written: StorageEntry[] = [];
  for (const item of items) {
    const sealed = deps.cipher.seal(item.value, storageAad(ns.clientId, ns.userId, item.key));
    written.push(
      await upsertEntry(tx, ns, {
        key: item.key,
        keyId: sealed.keyId,
        ciphertext: sealed.blob,
        sizeBytes: utf8(item.value),
        contentType: item.contentType ?? null,
        clientTimestamp: item.clientTimestamp ?? null,
        ttlSeconds: item.ttl ?? null,
      }),
    );
  }
  return written;
}

export async function getValue(deps: StorageDeps, ns: Namespace, key: string) {
  checkKey(deps, key);
  const found = await one(deps.pool, ns, key);
  if (!found) throw notFound(key);
  return view(deps, ns, found);
}

/** POST /storage: a new key only (409 KEY_EXISTS otherwise). */
export async function createValue(deps: StorageDeps, ns: Namespace, item: StorageItem) {
  checkItem(deps, item);
  const [written] = await deps.pool.transaction(async (tx) => {
    await lockNamespace(tx, ns);
    return writeAll(deps, tx, ns, [item], { mustBeNew: true });
  });
  return view(deps, ns, written!);
}

/**
 * PUT /storage/:key: create or replace, with `If-Match` (412 when the stored version differs) and
 * PROTO 10.3.5's conflict rule: a write whose client_timestamp is older than the stored value's is
 * not applied, and the answer carries the server's value.
 */
export async function putValue(deps: StorageDeps, ns: Namespace, item: StorageItem, ifMatch?: string) {
  checkItem(deps, item);
  return deps.pool.transaction(async (tx) => {
    await lockNamespace(tx, ns);
    if (item.clientTimestamp !== undefined) {
      const current = await one(tx, ns, item.key);
      const storedAt = current ? Number(current.client_timestamp ?? BigInt(Math.floor(current.updated_at.getTime() / 1000))) : undefined;
      if (current && storedAt !== undefined && item.clientTimestamp < storedAt) {
        const server = view(deps, ns, current);
        return { conflict: true as const, body: { key: item.key, success: true as const, conflict_detected: true as const, resolution: 'server_wins' as const, server_value: server.value, updated_at: server.updated_at, version: server.version } };
      }
    }
    const [written] = await writeAll(deps, tx, ns, [item], { ifMatch });
    return { conflict: false as const, body: view(deps, ns, written!) };
  });
}

export async function deleteValue(deps: StorageDeps, ns: Namespace, key: string, ifMatch?: string) {
  checkKey(deps, key);
  await deps.pool.transaction(async (tx) => {
    await lockNamespace(tx, ns);
    const current = await one(tx, ns, key);
    if (!current) throw notFound(key);
    if (!matchesIfMatch(ifMatch, current)) throw new DomainError('PRECONDITION_FAILED', 'The stored version differs from If-Match', { key, version: Number(current.version) });
    await deleteEntry(tx, ns, key);
  });
  return { key, deleted: true as const };
}

/** Keys in byte order with an opaque cursor to the next page; values are read one by one or in a batch. */
export async function listKeys(deps: StorageDeps, ns: Namespace, opts: { prefix?: string; limit?: number; cursor?: string }) {
  const limit = opts.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidField('limit', 'must be 1 to 1000');
  let after: string | undefined;
  if (opts.cursor !== undefined) {
    after = Buffer.from(opts.cursor, 'base64url').toString('utf8');
    if (after === '' || Buffer.from(after, 'utf8').toString('base64url') !== opts.cursor) throw invalidField('cursor', 'is not a cursor this server gave');
  }
  const rows = await listEntries(deps.pool, ns, { prefix: opts.prefix ?? '', after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return {
    keys: page.map((e) => ({
      key: e.key,
      created_at: e.created_at.toISOString(),
      updated_at: e.updated_at.toISOString(),
      ...(e.expires_at ? { expires_at: e.expires_at.toISOString() } : {}),
      version: Number(e.version),
      metadata: { size_bytes: e.size_bytes, content_type: e.content_type ?? 'text/plain' },
    })),
    ...(rows.length > limit ? { next_cursor: Buffer.from(page.at(-1)!.key, 'utf8').toString('base64url') } : {}),
  };
}

export async function storageInfo(deps: StorageDeps, ns: Namespace) {
  const used = await usage(deps.pool, ns);
  const { quotaBytes, maxKeys, maxKeyBytes, maxValueBytes } = deps.config.storage;
  return { usage_bytes: used.bytes, quota_bytes: quotaBytes, keys: used.keys, max_keys: maxKeys, max_key_bytes: maxKeyBytes, max_value_bytes: maxValueBytes };
}

function checkBatch(size: number, field: string): void {
  if (size < 1 || size > BATCH_MAX) throw invalidField(field, `must hold 1 to ${BATCH_MAX} entries`);
}

/** A batch changes each key once: the quota is measured per key against what is stored, so a key written twice would be counted once. */
function checkDistinct(keys: readonly string[], field: string): void {
  if (new Set(keys).size !== keys.length) throw invalidField(field, 'must not name a key twice (across set and delete)');
}

export async function batchGet(deps: StorageDeps, ns: Namespace, keys: readonly string[]) {
  checkBatch(keys.length, 'keys');
  keys.forEach((k, i) => checkKey(deps, k, `keys[${i}]`));
  return readKeys(deps, ns, keys);
}

/** The live values of checked keys, and which are missing. */
async function readKeys(deps: StorageDeps, ns: Namespace, keys: readonly string[]) {
  const found = await liveEntries(deps.pool, ns, keys);
  const byKey = new Map(found.map((e) => [e.key, e]));
  return { items: keys.filter((k) => byKey.has(k)).map((k) => view(deps, ns, byKey.get(k)!)), missing: keys.filter((k) => !byKey.has(k)) };
}

/** All or nothing: every item is written, or none (a refusal names the item). */
export async function batchSet(deps: StorageDeps, ns: Namespace, items: readonly StorageItem[]) {
  checkBatch(items.length, 'items');
  items.forEach((item, i) => checkItem(deps, item, `items[${i}].`));
  checkDistinct(items.map((i) => i.key), 'items');
  const written = await deps.pool.transaction(async (tx) => {
    await lockNamespace(tx, ns);
    return writeAll(deps, tx, ns, items);
  });
  return { items: written.map((e) => view(deps, ns, e)) };
}

/** POST /storage/batch: reads, writes and deletes in one request; the writes and deletes all or nothing. */
export async function batch(deps: StorageDeps, ns: Namespace, ops: { get?: string[]; set?: StorageItem[]; delete?: string[] }) {
  const total = (ops.get?.length ?? 0) + (ops.set?.length ?? 0) + (ops.delete?.length ?? 0);
  checkBatch(total, 'operations');
  ops.set?.forEach((item, i) => checkItem(deps, item, `set[${i}].`));
  ops.delete?.forEach((k, i) => checkKey(deps, k, `delete[${i}]`));
  // Every part is checked before anything is written: a bad read key must not fail a committed write.
  ops.get?.forEach((k, i) => checkKey(deps, k, `get[${i}]`));
  checkDistinct([...(ops.set ?? []).map((i) => i.key), ...(ops.delete ?? [])], ops.set?.length ? 'set' : 'delete');
  const result = await deps.pool.transaction(async (tx) => {
    await lockNamespace(tx, ns);
    const written = ops.set?.length ? await writeAll(deps, tx, ns, ops.set) : [];
    const deleted: string[] = [];
    for (const key of ops.delete ?? []) if (await deleteEntry(tx, ns, key)) deleted.push(key);
    return { written, deleted };
  });
  return {
    ...(ops.get ? { get: await readKeys(deps, ns, ops.get) } : {}),
    set: result.written.map((e) => view(deps, ns, e)),
    deleted: result.deleted,
  };
}
