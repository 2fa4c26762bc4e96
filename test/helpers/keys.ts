import { writeFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { generateTepJwk, loadTepKeys, type TepKeys } from '../../src/auth/keys';
import { scratchFile } from './scratch';

/** A key set file with the given keys (first signs), in the run's scratch folder. */
export async function writeKeySet(keys: JWK[]): Promise<string> {
  const file = scratchFile('tep-keys.json');
  await writeFile(file, JSON.stringify({ keys }));
  return file;
}

export async function testKeys(): Promise<{ file: string; keys: TepKeys; jwk: JWK }> {
  const jwk = await generateTepJwk();
  const file = await writeKeySet([jwk]);
  return { file, keys: await loadTepKeys(file), jwk };
}
