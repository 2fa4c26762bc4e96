import { createSealer, newDataKey, parseDataKey } from '../../src/crypto/sealing';

const key = parseDataKey(newDataKey())!;

test('a sealed value opens with the same key, purpose and context only', () => {
  const sealer = createSealer(key, 'auth-proof');
  const sealed = sealer.seal('{"hashed_pin":"abc"}', 'p2p_one');
  expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
  expect(sealed).not.toContain('abc');
  expect(sealer.open(sealed, 'p2p_one')).toBe('{"hashed_pin":"abc"}');
  expect(() => sealer.open(sealed, 'p2p_two')).toThrow();
  expect(() => createSealer(key, 'storage').open(sealed, 'p2p_one')).toThrow();
  expect(() => createSealer(parseDataKey(newDataKey())!, 'auth-proof').open(sealed, 'p2p_one')).toThrow();
});

test('a tampered or truncated value is refused', () => {
  const sealer = createSealer(key, 'auth-proof');
  const sealed = sealer.seal('secret', 'ctx');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[raw.length - 20]! ^= 1;
  expect(() => sealer.open(`v1.${raw.toString('base64url')}`, 'ctx')).toThrow();
  expect(() => sealer.open('v1.AAAA', 'ctx')).toThrow(/truncated/);
  expect(() => sealer.open('v2.AAAA', 'ctx')).toThrow(/not a sealed value/);
});

test('sealing the same value twice gives different text', () => {
  const sealer = createSealer(key, 'auth-proof');
  expect(sealer.seal('x', 'c')).not.toBe(sealer.seal('x', 'c'));
});

test('DATA_ENCRYPTION_KEY is 32 bytes as hex or base64', () => {
  expect(parseDataKey('00'.repeat(32))).toHaveLength(32);
  expect(parseDataKey(Buffer.alloc(32, 7).toString('base64'))).toHaveLength(32);
  expect(parseDataKey(Buffer.alloc(32, 7).toString('base64url'))).toHaveLength(32);
  expect(parseDataKey('00'.repeat(16))).toBeUndefined();
  expect(parseDataKey('not a key')).toBeUndefined();
});
