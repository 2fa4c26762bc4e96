import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate';
import { databaseUrl } from '../helpers/db';
import { testEnv } from '../setup/env';

test('migrations apply in order once; running again, even concurrently, applies nothing', async () => {
  const name = `tmcp_m_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testEnv('adminUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  try {
    const runs = await Promise.all([migrate(databaseUrl(name)), migrate(databaseUrl(name)), migrate(databaseUrl(name))]);
    const applied = runs.flat();
    expect(applied.length).toBeGreaterThan(0);
    expect(new Set(applied).size).toBe(applied.length);
    expect(applied).toEqual([...applied].sort());
    expect(await migrate(databaseUrl(name))).toEqual([]);
    const client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
    const rows = await client.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    await client.end();
    expect(rows.rows.map((r) => r.version)).toEqual([...applied].sort());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
});
