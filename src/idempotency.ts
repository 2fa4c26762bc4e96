import { sha256Hex } from './crypto/secrets';
import { DomainError } from './domain/errors';

/**
 * Idempotency keys of the money flows (P2P initiate, payment request, gift create): a request is
 * stored with its key and the hash of what it asked for; the same key again answers the stored
 * response when the request is the same, and 409 DUPLICATE_TRANSACTION when it is not.
 */

/** The hash of what a request asks for, its idempotency key left out. */
export function requestHash(parts: readonly unknown[]): string {
  return sha256Hex(JSON.stringify(parts));
}

/** 409 DUPLICATE_TRANSACTION: the key is taken by another request (`what`: "transfer", "payment", "gift"). */
export function keyTaken(what: string, details: Record<string, unknown>): DomainError {
  return new DomainError('DUPLICATE_TRANSACTION', `idempotency_key was already used for a different ${what}`, { field: 'idempotency_key', ...details });
}

/** Throws DUPLICATE_TRANSACTION when the key was stored with another request. */
export function refuseOtherRequest(storedHash: string, hash: string, what: string, details: Record<string, unknown>): void {
  if (storedHash !== hash) throw keyTaken(what, details);
}

/** The stored answer of a repeated request, or DUPLICATE_TRANSACTION. */
export function replayStored<B>(storedHash: string, hash: string, body: B, what: string, details: Record<string, unknown>): { replayed: true; body: B } {
  refuseOtherRequest(storedHash, hash, what, details);
  return { replayed: true, body };
}
