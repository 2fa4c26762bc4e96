import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
// Any constant works; it only has to be the same in every process that migrates this database.
const MIGRATION_LOCK = 7_246_001;

/**
 * Applies `src/db/migrations/*.sql` in name order, each in its own transaction together with its
 * row in `schema_migrations`. An advisory lock lets several processes start at once; running it
 * twice applies nothing the second time. Returns the versions it applied.
 *
 * This is the one place that talks to `pg` directly: a migration file holds many statements, which
 * slonik refuses by design (it only runs single, parameterised statements).
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const client = new pg.Client({ connectionString: databaseUrl });
  // A session dropped between statements fails the next one, which is what the caller acts on;
  // unheard, the client's error event would end the process instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text        PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const text = await readFile(path.join(dir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(text);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      applied.push(version);
    }
    return applied;
  } finally {
    await client.end(); // closing the session releases the advisory lock
  }
}
