import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabaseConnection } from './pool';

/**
 * Claims the exchange of one Matrix token for one client: true the first time within `windowMs`,
 * false for a replay. One statement, so concurrent replays cannot both pass.
 */
export async function claimTokenExchange(db: DatabaseConnection, subjectHash: string, clientId: string, windowMs: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ client_id: z.string() }))`
    INSERT INTO token_exchanges AS e (subject_hash, client_id) VALUES (${subjectHash}, ${clientId})
    ON CONFLICT (subject_hash, client_id) DO UPDATE SET exchanged_at = now()
      WHERE e.exchanged_at < now() - ${windowMs} * interval '1 millisecond'
    RETURNING client_id`);
  return row !== null;
}
