import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for values that must pass through places that keep them,
 * such as Temporal histories, without being readable there. Each purpose gets its own key derived
 * from DATA_ENCRYPTION_KEY, and each sealed value is bound to a context (for example a transfer id)
 * so it cannot be replayed elsewhere.
 */
export interface Sealer {
  seal(plaintext: string, context: string): string;
  /** Throws when the value was not sealed by this key for this context. */
  open(sealed: string, context: string): string;
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** DATA_ENCRYPTION_KEY: 32 bytes as 64 hex characters or base64 / base64url. */
export function parseDataKey(text: string): Buffer | undefined {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, text.includes('+') || text.includes('/') ? 'base64' : 'base64url');
  return key.length === 32 ? key : undefined;
}

export function newDataKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Each purpose gets its own key, so a value sealed (or named) for one purpose means nothing in another. */
export function purposeKey(masterKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `tmcp:${purpose}`, 32));
}

/**
 * A stable name for a secret value (HMAC-SHA-256, hex) that reveals nothing of it to whoever sees
 * the name, for example an Update id derived from a payment proof.
 */
export function createKeyedDigest(masterKey: Buffer, purpose: string): (text: string) => string {
  const key = purposeKey(masterKey, purpose);
  return (text) => createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

export function createSealer(masterKey: Buffer, purpose: string): Sealer {
  const key = purposeKey(masterKey, purpose);
  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, payload] = sealed.split('.');
      if (version !== VERSION || !payload) throw new Error('not a sealed value');
      const raw = Buffer.from(payload, 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}
