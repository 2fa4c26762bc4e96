import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { generateTepJwk, loadTepKeys } from '../auth/keys';

const USAGE = 'usage: npm run keys -- --out secrets/tep-keys.json [--rotate] [--keep 2]';

/**
 * `npm run keys`: write a TEP key set for production (TEP_KEYS_FILE). With --rotate, a new signing
 * key goes first and the previous keys stay (public part only) so tokens already issued still verify
 * until they expire; --keep bounds how many keys the set holds.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, rotate: { type: 'boolean', default: false }, keep: { type: 'string', default: '2' } },
    strict: true,
  });
  if (!values.out) throw new Error(USAGE);
  const keep = Number(values.keep);
  if (!Number.isInteger(keep) || keep < 1) throw new Error('--keep: a positive whole number');
  if (existsSync(values.out) && !values.rotate) throw new Error(`${values.out} exists; pass --rotate to add a new signing key`);

  let previous: Record<string, unknown>[] = [];
  if (values.rotate && existsSync(values.out)) {
    await loadTepKeys(values.out); // refuse to rotate a file that is not a valid key set
    const set = JSON.parse(await readFile(values.out, 'utf8')) as { keys: Record<string, unknown>[] };
    previous = set.keys.map(({ kty, kid, n, e, alg, use }) => ({ kty, kid, n, e, alg, use }));
  }
  const fresh = await generateTepJwk();
  const keys = [fresh, ...previous].slice(0, keep);
  await writeFile(values.out, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(`wrote ${values.out}: signing key ${fresh.kid}, ${keys.length - 1} previous key(s) kept for verification\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
