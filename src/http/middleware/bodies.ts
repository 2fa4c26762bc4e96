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

function parser(limit: string): Middleware<AppState> {
  return bodyParser({
    // form: the OAuth token endpoint and pages (RFC 6749 4.1.3); every other route reads JSON.
    enableTypes: ['json', 'form'],
    jsonLimit: limit,
    onError: (err) => {
      if ((err as { type?: unknown }).type === 'entity.too.large') throw new DomainError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit}`, { field: 'body', limit });
      throw invalidField('body', 'is not valid JSON');
    },
  });
}

/** Storage values may be 1 MB each and batches hold several; the large limit follows the quota. */
export function bodyParsers(storageQuotaBytes: number): BodyParsers {
  return { small: parser('256kb'), large: parser(`${Math.ceil((storageQuotaBytes * 1.5) / 1024 / 1024) + 1}mb`) };
}
