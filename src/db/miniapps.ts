import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import type { DatabaseConnection } from './pool';

export const MiniappRow = z.object({
  client_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  pre_approved_scopes: z.array(z.string()),
  status: z.enum(['active', 'suspended']),
  first_party: z.boolean(),
});
export type Miniapp = z.infer<typeof MiniappRow>;

export interface MiniappDefinition {
  client_id: string;
  name: string;
  scopes: string[];
  pre_approved_scopes: string[];
  /** The user's own messenger rather than a mini-app: it may manage payment factors and wallet settings. */
  first_party: boolean;
}

/** Inserts or updates each mini-app and makes sure it has a merchant account in `currency`. */
export async function upsertMiniapps(db: DatabaseConnection, apps: readonly MiniappDefinition[], currency: Currency): Promise<void> {
  await db.transaction(async (tx) => {
    for (const app of apps) {
      await tx.query(sql.unsafe`
        INSERT INTO miniapps (client_id, name, scopes, pre_approved_scopes, first_party)
        VALUES (${app.client_id}, ${app.name}, ${sql.array(app.scopes, 'text')}, ${sql.array(app.pre_approved_scopes, 'text')}, ${app.first_party})
        ON CONFLICT (client_id) DO UPDATE
          SET name = EXCLUDED.name, scopes = EXCLUDED.scopes, pre_approved_scopes = EXCLUDED.pre_approved_scopes,
              first_party = EXCLUDED.first_party, updated_at = now()`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts (kind, owner, currency) VALUES ('merchant', ${app.client_id}, ${currency})
        ON CONFLICT DO NOTHING`);
    }
  });
}

export function miniappById(db: DatabaseConnection, clientId: string): Promise<Miniapp | null> {
  return db.maybeOne(sql.type(MiniappRow)`
    SELECT client_id, name, scopes, pre_approved_scopes, status, first_party FROM miniapps WHERE client_id = ${clientId}`);
}
