import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit, loadDotEnv } from '../config';
import { createLogger } from '../logger';
import { appserviceRegistration, registrationYaml } from '../matrix/registration';
import { applyDevMatrixTokens, ensureDevSecrets } from './secrets';
import { configureSynapse, ensureSynapseInstalled, registerSynapseUser, startSynapse } from './synapse';

/**
 * `npm run dev:synapse`: a local Synapse (PyPI, SQLite, loopback) wired to this server as its
 * Application Service, for the whole chat side on a laptop. Its data lives in .data/synapse; the
 * AS tokens in .data/dev-secrets.json, which `npm start` uses once MATRIX_HOMESERVER_URL is set.
 * `--user alice:password` creates users (repeatable). Ctrl-C stops it.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { user: { type: 'string', multiple: true }, port: { type: 'string', default: '8008' } }, strict: true });
  loadDotEnv();
  await applyDevMatrixTokens();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'tmcp-dev-synapse');
  const port = Number(values.port);
  const secrets = await ensureDevSecrets(config.dataDir);
  const dataDir = path.join(config.dataDir, 'synapse');
  const python = await ensureSynapseInstalled(undefined, (line) => log.info(line));

  const registrationFile = path.join(dataDir, 'tmcp-registration.yaml');
  const synapseConfig = await configureSynapse(python, {
    dataDir,
    serverName: config.appservice.serverName,
    port,
    appserviceFiles: [registrationFile],
    registrationSharedSecret: secrets.synapse_registration_secret,
  });
  const registration = appserviceRegistration(config.appservice, { asToken: secrets.matrix_as_token, hsToken: secrets.matrix_hs_token });
  await writeFile(registrationFile, registrationYaml(registration), { mode: 0o600 });

  const synapse = await startSynapse(python, synapseConfig, port);
  for (const spec of values.user ?? []) {
    const [localpart, password] = spec.split(':');
    if (!localpart || !password) throw new Error(`--user ${spec}: expected name:password`);
    const user = await registerSynapseUser(synapse.url, secrets.synapse_registration_secret, { localpart, password });
    process.stdout.write(`created ${user.userId} (log in with its password at ${synapse.url})\n`);
  }
  process.stdout.write(
    [
      '',
      `Synapse is running: http://localhost:${port} (server name ${config.appservice.serverName}, data in ${dataDir})`,
      `  It calls this server at ${config.appservice.url} as Application Service ${config.appservice.id}.`,
      `  Start the server wired to it:  MATRIX_HOMESERVER_URL=http://localhost:${port} npm start`,
      '  Ctrl-C stops Synapse.',
      '',
    ].join('\n'),
  );
  const stop = () => void synapse.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  synapse.process.once('exit', (code) => {
    log.error({ code }, 'Synapse stopped');
    process.exit(code ?? 1);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`dev:synapse failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
