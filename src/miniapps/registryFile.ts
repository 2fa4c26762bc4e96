import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { FIRST_PARTY_CLIENT_ID, MINIAPP_CLIENT_ID } from '../domain/miniapps';
import { isScope } from '../domain/scopes';
import type { MiniappDefinition } from '../db/miniapps';

const scope = z.string().refine(isScope, (s) => ({ message: `unknown scope '${s}'` }));

const MiniappEntry = z
  .object({
    client_id: z.string(),
    name: z.string().min(1).max(200),
    scopes: z.array(scope).min(1),
    pre_approved_scopes: z.array(scope).default([]),
    first_party: z.boolean().default(false),
  })
  .strict()
  .refine((app) => MINIAPP_CLIENT_ID.test(app.client_id) || (app.first_party && FIRST_PARTY_CLIENT_ID.test(app.client_id)), {
    message: 'must look like ma_shop_001 (a first_party client: lowercase letters, digits and _, such as tween_client)',
    path: ['client_id'],
  })
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
 *     - client_id: tween_client       # the messenger itself: may manage payment factors
 *       first_party: true
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
