import {
  createPool,
  createTypeParserPreset,
  SchemaValidationError,
  type DatabasePool,
  type Interceptor,
  type QueryResultRow,
} from 'slonik';

import { preparedStatementsDriver } from './preparedStatements';

export type { DatabasePool };
export type { DatabaseConnection, DatabaseTransactionConnection } from 'slonik';

/** Slonik hands the query's zod schema to interceptors but does not apply it; this checks every row. */
const resultParser: Interceptor = {
  name: 'result-parser',
  transformRow(context, query, row) {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser.safeParse(row);
    if (!result.success) throw new SchemaValidationError(query, row, result.error.issues);
    return result.data as QueryResultRow;
  },
};

/** timestamptz as Date objects rather than slonik's default epoch milliseconds. */
const typeParsers = [
  ...createTypeParserPreset().filter((p) => p.name !== 'timestamptz'),
  { name: 'timestamptz', parse: (value: string) => new Date(value) },
];

export interface PoolOptions {
  maximumPoolSize?: number;
  /** Queries as named prepared statements (DATABASE_PREPARED_STATEMENTS; default on). */
  preparedStatements?: boolean;
}

export async function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  const pool = await createPool(url, {
    ...(options.preparedStatements !== false ? { driverFactory: preparedStatementsDriver() } : {}),
    interceptors: [resultParser],
    typeParsers,
    maximumPoolSize: options.maximumPoolSize ?? 10,
    captureStackTrace: false,
    statementTimeout: 30_000,
    // Slonik's default runs DISCARD ALL after every query: a second round trip each time, and it
    // throws away the plans PL/pgSQL keeps. Our queries leave no session state behind (locks are
    // transaction-scoped, nothing is SET for the session, no temporary tables), so there is nothing to reset.
    resetConnection: async () => undefined,
    // Keep connections between bursts: a new one costs PostgreSQL a process and a SCRAM exchange.
    idleTimeout: 60_000,
  });
  // slonik also emits every failed query.query() as an 'error' event; without a listener Node turns
  // that into an ERR_UNHANDLED_ERROR that hides the real error. The caller gets the error anyway.
  pool.on('error', () => undefined);
  return pool;
}
