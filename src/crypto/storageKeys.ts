import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { parseDataKey, purposeKey } from './sealing';

/**
 * Encryption of stored values at rest (PROTO 10.3.8): AES-256-GCM under one of several keys, the
 * key's id kept beside each value, the value bound to its mini-app, user and key name as associated
 * data, so a value copied to another row does not decrypt. The first key encrypts; all decrypt
 * (rotation: add a key in front, run `npm run storage:rotate`, then drop the old one).
 */
export interface StorageCipher {
  currentKeyId: string;
  keyIds: readonly string[];
  seal(plaintext: string, aad: string): { keyId: string; blob: Buffer };
  /** Throws when the key is unknown or the value was not sealed for this row. */
  open(keyId: string, blob: Buffer, aad: string): string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * STORAGE_ENCRYPTION_KEYS (`<id>:<32-byte key, hex or base64>,...`); without it, one key derived
 * from DATA_ENCRYPTION_KEY (id `dk1`).
 */
export function parseStorageKeys(text: string | undefined, dataKey: Buffer): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  if (!text || text.trim() === '') {
    keys.set('dk1', purposeKey(dataKey, 'storage-values'));
    return keys;
  }
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    const key = colon > 0 ? parseDataKey(entry.slice(colon + 1)) : undefined;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || !key) throw new Error(`STORAGE_ENCRYPTION_KEYS: '${entry.slice(0, Math.max(colon, 0))}:...' is not <id>:<32-byte key>`);
    if (keys.has(id)) throw new Error(`STORAGE_ENCRYPTION_KEYS: key id ${id} appears twice`);
    keys.set(id, key);
  }
  return keys;
}

export function storageCipher(keys: Map<string, Buffer>): StorageCipher {
  const [currentKeyId] = keys.keys();
  if (!currentKeyId) throw new Error('no storage encryption key');
  return {
    currentKeyId,
    keyIds: [...keys.keys()],
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keys.get(currentKeyId)!, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { keyId: currentKeyId, blob: Buffer.concat([iv, cipher.getAuthTag(), body]) };
    },
    open(keyId, blob, aad) {
      const key = keys.get(keyId);
      if (!key) throw new Error(`storage key ${keyId} is not configured`);
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}

/** What a value is bound to: its mini-app, user and key name. */
export function storageAad(clientId: string, userId: string, key: string): string {
  return JSON.stringify([clientId, userId, key]);
}
