import { z } from 'zod';
import { batch, batchGet, batchSet, createValue, deleteValue, getValue, listKeys, putValue, storageInfo } from '../../storage/storage';
import { describes, Instant } from './common';

const Metadata = z.object({ size_bytes: z.number().int(), content_type: z.string() });

/** PROTO 10.3.2: a value, decrypted, with its version (also the ETag). */
export const StoredValue = describes(
  z.object({
    key: z.string(),
    value: z.string(),
    created_at: Instant,
    updated_at: Instant,
    expires_at: Instant.optional(),
    version: z.number().int(),
    metadata: Metadata,
  }),
  getValue,
  createValue,
);

/** PROTO 10.3.5: a write older than the stored value is not applied; the answer carries the server's. */
const PutConflict = z.object({
  key: z.string(),
  success: z.literal(true),
  conflict_detected: z.literal(true),
  resolution: z.literal('server_wins'),
  server_value: z.string(),
  updated_at: Instant,
  version: z.number().int(),
});
export const PutAnswer = describes(z.union([StoredValue, PutConflict]), async (...args: Parameters<typeof putValue>) => (await putValue(...args)).body);

export const Deleted = describes(z.object({ key: z.string(), deleted: z.literal(true) }), deleteValue);

export const KeyList = describes(
  z.object({
    keys: z.array(z.object({ key: z.string(), created_at: Instant, updated_at: Instant, expires_at: Instant.optional(), version: z.number().int(), metadata: Metadata })),
    // Only when there is a next page.
    next_cursor: z.string().optional(),
  }),
  listKeys,
);

export const StorageInfo = describes(
  z.object({
    usage_bytes: z.number().int(),
    quota_bytes: z.number().int(),
    keys: z.number().int(),
    max_keys: z.number().int(),
    max_key_bytes: z.number().int(),
    max_value_bytes: z.number().int(),
  }),
  storageInfo,
);

export const BatchGot = describes(z.object({ items: z.array(StoredValue), missing: z.array(z.string()) }), batchGet);
export const BatchSetAnswer = describes(z.object({ items: z.array(StoredValue) }), batchSet);
export const BatchAnswer = describes(z.object({ get: BatchGot.optional(), set: z.array(StoredValue), deleted: z.array(z.string()) }), batch);
