import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { MINIAPP_CLIENT_ID } from '../domain/miniapps';
import { isScope } from '../domain/scopes';
import type { MiniappDefinition } from '../db/miniapps';

const scope = z.string().refine(isScope, (s) => ({ message: `unknown scope '${s}'` }));

const MiniappEntry = z
  .object({
    client_id: z.string().regex(MINIAPP_CLIENT_ID, 'must look like ma_shop_001'),
    name: z.string().min(1).max(200),
    scopes: z.array(scope).min(1),
    pre_approved_scopes: z.array(scope).default([]),
  })
  .strict()
  .refine((app) => app.pre_approved_scopes.every((s) => app.scopes.includes(s)), {
    message: 'pre_approved_scopes must be a subset of scopes',
    path: ['pre_approved_scopes'],
  });

const RegistryFile = z.object({ miniapps: z.array(MiniappEntry) }).strict();

/**
 * Reads the mini-app registry file:
 *
 *   miniapps:
 *     - client_id: ma_shop_001
 *       name: Shop
 *       scopes: [user:read, wallet:pay]
 *       pre_approved_scopes: [user:read]
 */
export async function readMiniappsFile(file: string): Promise<MiniappDefinition[]> {
  const parsed = RegistryFile.safeParse(parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${file}: ${problems}`);
  }
  const ids = parsed.data.miniapps.map((a) => a.client_id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate) throw new Error(`${file}: client_id ${duplicate} is listed twice`);
  return parsed.data.miniapps;
}
