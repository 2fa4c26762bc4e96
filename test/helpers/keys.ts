import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JWK } from 'jose';
import { generateTepJwk, loadTepKeys, type TepKeys } from '../../src/auth/keys';

/** A key set file with the given keys (first signs), in a fresh temporary folder. */
export async function writeKeySet(keys: JWK[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tmcp-keys-'));
  const file = path.join(dir, 'tep-keys.json');
  await writeFile(file, JSON.stringify({ keys }));
  return file;
}

export async function testKeys(): Promise<{ file: string; keys: TepKeys; jwk: JWK }> {
  const jwk = await generateTepJwk();
  const file = await writeKeySet([jwk]);
  return { file, keys: await loadTepKeys(file), jwk };
}
