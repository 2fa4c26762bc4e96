import { storageAad, type StorageCipher } from '../crypto/storageKeys';
import type { DatabasePool } from '../db/pool';
import { entriesToRotate, reencryptEntry } from '../db/storage';

/**
 * Re-encrypts every stored value under the current storage key, in batches, while the server runs:
 * each value is replaced only if it did not change meanwhile (its version), and one written
 * meanwhile is under the current key already. Answers how many values were re-encrypted.
 */
export async function rotateStorageKeys(pool: DatabasePool, cipher: StorageCipher, batchSize = 500, onBatch: (done: number) => void = () => undefined): Promise<number> {
  let done = 0;
  for (;;) {
    const rows = await entriesToRotate(pool, cipher.currentKeyId, batchSize);
    if (rows.length === 0) return done;
    let changed = 0;
    for (const row of rows) {
      const aad = storageAad(row.client_id, row.user_id, row.key);
      const sealed = cipher.seal(cipher.open(row.key_id, row.ciphertext, aad), aad);
      if (await reencryptEntry(pool, row, sealed.keyId, sealed.blob)) changed += 1;
    }
    done += changed;
    onBatch(done);
  }
}
