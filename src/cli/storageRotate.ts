import { required, loadConfigOrExit, loadDotEnv } from '../config';
import { parseStorageKeys, storageCipher } from '../crypto/storageKeys';
import { createDatabasePool } from '../db/pool';
import { localDatabaseUrl } from '../dev/secrets';
import { rotateStorageKeys } from '../storage/rotation';

/**
 * `npm run storage:rotate`: re-encrypts stored values under the first key of STORAGE_ENCRYPTION_KEYS,
 * in batches, without downtime (the server reads both keys meanwhile). Afterwards the old key can
 * be removed from the list.
 */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfigOrExit();
  const cipher = storageCipher(parseStorageKeys(config.storage.encryptionKeys, required(config.dataKey, 'DATA_ENCRYPTION_KEY')));
  const pool = await createDatabasePool(await localDatabaseUrl(config), { maximumPoolSize: 2 });
  try {
    const done = await rotateStorageKeys(pool, cipher, 500, (n) => process.stdout.write(`re-encrypted ${n} values\n`));
    process.stdout.write(`done: ${done} values re-encrypted; every value is under key ${cipher.currentKeyId}\n`);
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
