import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const DevSecrets = z.object({ postgres_password: z.string().min(16), admin_token: z.string().min(32) });
export type DevSecrets = z.infer<typeof DevSecrets>;

/** Local secrets of the dev launcher, made once and kept under the data folder (owner-only). */
export async function ensureDevSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return DevSecrets.parse(JSON.parse(await readFile(file, 'utf8')));
  const secrets: DevSecrets = {
    postgres_password: randomBytes(18).toString('base64url'),
    admin_token: `adm_${randomBytes(24).toString('base64url')}`,
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/** DATABASE_URL, or the URL of the embedded PostgreSQL that `npm start` runs, for local CLIs. */
export async function localDatabaseUrl(config: { dataDir: string; database: { url: string | undefined; embeddedPort: number } }): Promise<string> {
  if (config.database.url) return config.database.url;
  const secrets = await ensureDevSecrets(config.dataDir);
  return `postgres://postgres:${encodeURIComponent(secrets.postgres_password)}@127.0.0.1:${config.database.embeddedPort}/tmcp`;
}
