import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Hex SHA-256 of a text: how secrets and tokens of high entropy are kept (no slow hash needed). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A bearer secret of 256 random bits, `<prefix>_<base64url>`, with the hash that is kept of it. */
export function newSecret(prefix: string): { secret: string; hash: string } {
  const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { secret, hash: sha256Hex(secret) };
}

/** Whether `presented` hashes to `expectedHash`, compared in constant time. */
export function matchesHash(presented: string, expectedHash: string): boolean {
  const expected = Buffer.from(expectedHash, 'hex');
  const actual = Buffer.from(sha256Hex(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}
