import { createHash } from 'node:crypto';
import { createPgDriverFactory } from '@slonik/pg-driver';
import type { DriverClient, DriverFactory } from 'slonik';

/**
 * Statements one connection keeps prepared at most; past that, new statements run unnamed. Our
 * queries are static text, a few hundred in all; the cap bounds what a text built from a list of
 * varying length (IN (...) of n values) could add.
 */
const PREPARED_PER_CONNECTION = 500;
/** Longer texts run unnamed: big generated statements are rare and not worth a server-side copy each. */
const LONGEST_PREPARED = 8_000;

const names = new Map<string, string>();

/** One name per statement text, the same in every process (a digest of the text). */
function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `s_${createHash('sha1').update(text).digest('base64url')}`;
    if (names.size >= 10_000) names.clear();
    names.set(text, name);
  }
  return name;
}

/**
 * The statement was prepared before a migration changed a table it reads (`SELECT *` of a table
 * that gained a column): PostgreSQL refuses the old prepared statement from then on.
 */
const isStalePlan = (err: unknown) => err instanceof Error && /cached plan must not change result type/.test(err.message);

/**
 * slonik's PostgreSQL driver with every query that has parameters sent as a named prepared
 * statement: PostgreSQL parses and plans it once per connection, and after five runs keeps a
 * generic plan when it costs no more than the custom ones, instead of planning it at every call
 * (planning was 40% of the statements' time in a P2P transfer; `pg_stat_statements` with
 * `track_planning`). Transaction commands and other text without parameters run as before.
 * A connection whose statement a migration made stale is closed, so the pool opens a fresh one.
 */
export function preparedStatementsDriver(): DriverFactory {
  const pgDriver = createPgDriverFactory();
  return async (setup) => {
    const driver = await pgDriver(setup);
    return {
      ...driver,
      async createClient(): Promise<DriverClient> {
        const client = await driver.createClient();
        const prepared = new Set<string>();
        return {
          ...client,
          async query(text, values) {
            if (!values?.length || text.length > LONGEST_PREPARED) return client.query(text, values);
            const name = nameOf(text);
            if (!prepared.has(name)) {
              if (prepared.size >= PREPARED_PER_CONNECTION) return client.query(text, values);
              prepared.add(name);
            }
            try {
              // The pg client takes a query configuration where slonik's driver passes the text.
              return await client.query({ name, text } as unknown as string, values);
            } catch (err) {
              if (isStalePlan(err)) void client.destroy();
              throw err;
            }
          },
        };
      },
    };
  };
}
