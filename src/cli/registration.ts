import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit, loadDotEnv } from '../config';
import { applyDevMatrixTokens } from '../dev/secrets';
import { appserviceRegistration, newAppserviceToken, registrationYaml } from '../matrix/registration';

const USAGE = 'usage: npm run registration -- --out tmcp-registration.yaml';

/**
 * `npm run registration`: writes the Application Service registration file for the homeserver from
 * the configuration (MATRIX_AS_ID, MATRIX_AS_URL or PUBLIC_URL, MATRIX_SERVER_NAME). The tokens are
 * MATRIX_AS_TOKEN and MATRIX_HS_TOKEN when set (in development with MATRIX_HOMESERVER_URL set, those
 * of the data folder, as `npm start` uses), else fresh random ones that the server must then be given.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
  if (!values.out) throw new Error(USAGE);
  loadDotEnv();
  await applyDevMatrixTokens();
  const { appservice } = loadConfigOrExit();
  const asToken = appservice.asToken ?? newAppserviceToken();
  const hsToken = appservice.hsToken ?? newAppserviceToken();
  await mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
  await writeFile(values.out, registrationYaml(appserviceRegistration(appservice, { asToken, hsToken })), { mode: 0o600 });
  await chmod(values.out, 0o600); // the mode above applies only to a new file; the tokens are secrets

  process.stdout.write(`wrote ${values.out}: Application Service ${appservice.id} at ${appservice.url} for ${appservice.serverName}\n`);
  if (!appservice.asToken || !appservice.hsToken) {
    process.stdout.write('new tokens were generated: give the server the same values as MATRIX_AS_TOKEN and MATRIX_HS_TOKEN (they are in the file)\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
