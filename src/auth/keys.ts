import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';
import { z } from 'zod';

const RsaJwk = z
  .object({
    kty: z.literal('RSA'),
    kid: z.string().min(1),
    n: z.string(),
    e: z.string(),
    d: z.string().optional(),
    alg: z.literal('RS256').optional(),
  })
  .passthrough();

const KeySetFile = z.object({ keys: z.array(RsaJwk).min(1) });

export interface TepKeys {
  /** The key new tokens are signed with: the first key of the set. */
  signing: { kid: string; key: CryptoKey };
  /** Every key of the set, by kid, so tokens signed before a rotation still verify. */
  verifying: Map<string, CryptoKey>;
  /** Public halves for GET /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
}

function publicPart(jwk: z.infer<typeof RsaJwk>): JWK {
  return { kty: 'RSA', kid: jwk.kid, n: jwk.n, e: jwk.e, alg: 'RS256', use: 'sig' };
}

/**
 * Loads a JSON Web Key Set of RS256 keys. The first key must carry its private part and signs;
 * later keys (private or public only) are accepted for verification during a rotation.
 */
export async function loadTepKeys(file: string): Promise<TepKeys> {
  const parsed = KeySetFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: not a JSON Web Key Set of RSA keys (${parsed.error.issues[0]?.message})`);
  const [first] = parsed.data.keys;
  if (!first?.d) throw new Error(`${file}: the first key signs new tokens and needs its private part`);
  const kids = parsed.data.keys.map((k) => k.kid);
  if (new Set(kids).size !== kids.length) throw new Error(`${file}: key ids (kid) must be unique`);

  const verifying = new Map<string, CryptoKey>();
  for (const jwk of parsed.data.keys) {
    verifying.set(jwk.kid, (await importJWK(publicPart(jwk), 'RS256')) as CryptoKey);
  }
  const signingKey = (await importJWK({ ...first, alg: 'RS256' }, 'RS256')) as CryptoKey;
  return {
    signing: { kid: first.kid, key: signingKey },
    verifying,
    jwks: { keys: parsed.data.keys.map(publicPart) },
  };
}

/** A fresh RS256 private JWK with a kid naming its creation day. */
export async function generateTepJwk(now = new Date()): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const day = now.toISOString().slice(0, 10);
  return { ...jwk, kid: `tmcp-${day}-${randomBytes(3).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

/** Development only: create a key set file when none exists, readable by its owner only. */
export async function ensureDevKeysFile(file: string): Promise<boolean> {
  if (existsSync(file)) return false;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify({ keys: [await generateTepJwk()] }, null, 2)}\n`, { mode: 0o600 });
  return true;
}
