import { loadConfigOrExit, loadDotEnv } from '../config';
import { migrate } from '../db/migrate';
import { localDatabaseUrl } from '../dev/secrets';

/** `npm run migrate`: apply pending migrations to DATABASE_URL (or the embedded database of npm start). */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfigOrExit();
  const applied = await migrate(await localDatabaseUrl(config));
  process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
