import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { dataDirFrom } from '../config';
import { newDataKey } from '../crypto/sealing';
import { newAppserviceToken } from '../matrix/registration';

const DevSecrets = z.object({
  postgres_password: z.string().min(16),
  admin_token: z.string().min(32),
  data_encryption_key: z.string(),
  // The Application Service tokens shared with the local Synapse of `npm run dev:synapse`.
  matrix_as_token: z.string().min(32),
  matrix_hs_token: z.string().min(32),
  synapse_registration_secret: z.string().min(32),
});
export type DevSecrets = z.infer<typeof DevSecrets>;

function freshSecrets(): DevSecrets {
  return {
    postgres_password: randomBytes(18).toString('base64url'),
    admin_token: `adm_${randomBytes(24).toString('base64url')}`,
    data_encryption_key: newDataKey(),
    matrix_as_token: newAppserviceToken(),
    matrix_hs_token: newAppserviceToken(),
    synapse_registration_secret: randomBytes(32).toString('hex'),
  };
}

/**
 * Local secrets of the dev launcher, made once and kept under the data folder (owner-only). A file
 * from an older version keeps its values and gains the secrets it lacks.
 */
export async function ensureDevSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(dataDir, 'dev-secrets.json');
  const existing = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Partial<DevSecrets>) : undefined;
  const secrets = DevSecrets.parse({ ...freshSecrets(), ...existing });
  if (existing && Object.keys(secrets).every((key) => key in existing)) return secrets;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/**
 * With a homeserver named and no AS tokens given, the local tools use the tokens `npm run
 * dev:synapse` registered with its Synapse (kept in the data folder), as `npm start` does. Never in
 * production, where the tokens are configuration.
 */
export async function applyDevMatrixTokens(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.MATRIX_HOMESERVER_URL || env.NODE_ENV === 'production') return;
  if (env.MATRIX_AS_TOKEN && env.MATRIX_HS_TOKEN) return;
  const { matrix_as_token, matrix_hs_token } = await ensureDevSecrets(dataDirFrom(env));
  env.MATRIX_AS_TOKEN ||= matrix_as_token;
  env.MATRIX_HS_TOKEN ||= matrix_hs_token;
}

/** DATABASE_URL, or the URL of the embedded PostgreSQL that `npm start` runs, for local CLIs. */
export async function localDatabaseUrl(config: { dataDir: string; database: { url: string | undefined; embeddedPort: number } }): Promise<string> {
  if (config.database.url) return config.database.url;
  const secrets = await ensureDevSecrets(config.dataDir);
  return `postgres://postgres:${encodeURIComponent(secrets.postgres_password)}@127.0.0.1:${config.database.embeddedPort}/tmcp`;
}
