import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

const ConsentRow = z.object({ client_id: z.string(), scope: z.string(), granted_at: z.date() });
export type Consent = z.infer<typeof ConsentRow>;

/** Records approvals; an approval given before keeps its first time. */
export async function recordConsents(db: DatabaseConnection, userId: string, clientId: string, scopes: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO consents (user_id, client_id, scope)
    SELECT ${userId}, ${clientId}, scope FROM unnest(${sql.array([...scopes], 'text')}::text[]) AS scope
    ON CONFLICT DO NOTHING`);
}

export function consentsOf(db: DatabaseConnection, userId: string, clientId?: string): Promise<readonly Consent[]> {
  return db.any(sql.type(ConsentRow)`
    SELECT client_id, scope, granted_at FROM consents
    WHERE user_id = ${userId} ${clientId ? sql.fragment`AND client_id = ${clientId}` : sql.fragment``}
    ORDER BY client_id, granted_at, scope`);
}

/** Withdraws every approval the user gave the client; answers the scopes withdrawn. */
export function deleteConsents(db: DatabaseConnection, userId: string, clientId: string): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ scope: z.string() }))`
    DELETE FROM consents WHERE user_id = ${userId} AND client_id = ${clientId} RETURNING scope`);
}
