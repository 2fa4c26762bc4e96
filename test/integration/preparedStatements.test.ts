import { sql } from 'slonik';
import { z } from 'zod';
import { createDatabasePool, type DatabasePool } from '../../src/db/pool';
import { freshDatabase, type TestDatabase } from '../helpers/db';

/** The statements the session of this connection holds prepared (pg_prepared_statements is per session). */
const preparedHere = (pool: DatabasePool) =>
  pool.connect((c) =>
    c.any(sql.type(z.object({ name: z.string(), statement: z.string() }))`
      SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 's\\_%'`),
  );

describe('queries as named prepared statements (DATABASE_PREPARED_STATEMENTS)', () => {
  let db: TestDatabase;
  let single: DatabasePool;

  beforeAll(async () => {
    db = await freshDatabase();
    // One connection, so each query below runs on the session whose statements it reads.
    single = await createDatabasePool(db.url, { maximumPoolSize: 1 });
  });
  afterAll(async () => {
    await single.end();
    await db.close();
  });

  it('prepares a query with parameters once per connection and runs it again by name', async () => {
    for (const n of [1, 2, 3]) {
      expect(await single.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT ${n}::int + 0 AS n`)).toBe(n);
    }
    const mine = (await preparedHere(single)).filter((s) => s.statement.includes('::int + 0 AS n'));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.name).toMatch(/^s_[A-Za-z0-9_-]{27}$/);
  });

  it('runs text without parameters unnamed', async () => {
    await single.query(sql.unsafe`SELECT 'no parameters here' AS text`);
    expect((await preparedHere(single)).some((s) => s.statement.includes('no parameters here'))).toBe(false);
  });

  it('replaces a connection whose statement a schema change made stale, and the next query works', async () => {
    await single.query(sql.unsafe`CREATE TABLE stale_probe (a int)`);
    await single.query(sql.unsafe`INSERT INTO stale_probe VALUES (1)`);
    const read = () => single.any(sql.unsafe`SELECT * FROM stale_probe WHERE a = ${1}`);
    await read();
    await single.query(sql.unsafe`ALTER TABLE stale_probe ADD COLUMN b int`);
    await expect(read()).rejects.toThrow(/cached plan must not change result type/);
    // The refused connection was closed: the pool opens a new session, which prepares the new text.
    expect(await read()).toEqual([{ a: 1, b: null }]);
  });

  it('is off when asked: nothing is prepared', async () => {
    const plain = await createDatabasePool(db.url, { maximumPoolSize: 1, preparedStatements: false });
    try {
      await plain.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT ${7}::int + 1 AS n`);
      expect(await preparedHere(plain)).toEqual([]);
    } finally {
      await plain.end();
    }
  });
});
