import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { DomainError, invalidField } from '../../domain/errors';
import type { AppState } from '../state';

export interface BodyParsers {
  /** Every route's body: at most 256 kB. */
  small: Middleware<AppState>;
  /** The storage routes that write values, after their caller is authenticated. */
  large: Middleware<AppState>;
}

/** Where in `value` a string (or a key) holds U+0000, which PostgreSQL's text and jsonb refuse. */
function nulAt(value: unknown, at: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? at : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const path = at ? `${at}.${key}` : key;
    if (key.includes('\0')) return path;
    const found = nulAt(inner, path);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses U+0000 anywhere in the path, the query or a parsed body, before any of it reaches
 * PostgreSQL (which cannot store it in text or jsonb and would fail the request with a 500).
 */
export const refuseNulCharacters: Middleware<AppState> = (ctx, next) => {
  if (/%00/.test(ctx.path)) throw invalidField('path', 'must not contain the NUL character');
  const inQuery = nulAt(ctx.query, '');
  if (inQuery) throw invalidField(inQuery, 'must not contain the NUL character');
  return next();
};

function parser(limit: string): Middleware<AppState> {
  const parse = bodyParser({
    // form: the OAuth token endpoint and pages (RFC 6749 4.1.3); every other route reads JSON.
    enableTypes: ['json', 'form'],
    jsonLimit: limit,
    onError: (err) => {
      if ((err as { type?: unknown }).type === 'entity.too.large') throw new DomainError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit}`, { field: 'body', limit });
      throw invalidField('body', 'is not valid JSON');
    },
  });
  return (ctx, next) =>
    parse(ctx, () => {
      const at = nulAt(ctx.request.body, '');
      if (at) throw invalidField(at, 'must not contain the NUL character');
      return next();
    });
}

/** Storage values may be 1 MB each and batches hold several; the large limit follows the quota. */
export function bodyParsers(storageQuotaBytes: number): BodyParsers {
  return { small: parser('256kb'), large: parser(`${Math.ceil((storageQuotaBytes * 1.5) / 1024 / 1024) + 1}mb`) };
}
