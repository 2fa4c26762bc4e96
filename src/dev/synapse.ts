import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);

/** The Synapse release this project is tested with (PyPI `matrix-synapse`). */
export const SYNAPSE_VERSION = '1.163.2';

/**
 * A real Synapse from PyPI, in a virtualenv of the clone (`.tools/synapse` by default), installed
 * when absent. Answers the virtualenv's python.
 */
export async function ensureSynapseInstalled(venvDir = path.resolve('.tools', 'synapse'), onLog: (line: string) => void = () => undefined): Promise<string> {
  const python = path.join(venvDir, 'bin', 'python');
  const installed = existsSync(python) && (await run(python, ['-c', 'import synapse']).then(() => true, () => false));
  if (installed) return python;
  onLog(`installing matrix-synapse ${SYNAPSE_VERSION} into ${venvDir}`);
  await run('python3', ['-m', 'venv', venvDir]);
  await run(path.join(venvDir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `matrix-synapse==${SYNAPSE_VERSION}`], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return python;
}

export interface SynapseConfig {
  /** Folder for the config, signing key, SQLite database and media. */
  dataDir: string;
  serverName: string;
  port: number;
  /** Application Service registration files to load. */
  appserviceFiles: string[];
  /** For creating users through the admin API (`/_synapse/admin/v1/register`). */
  registrationSharedSecret: string;
}

/**
 * Writes `homeserver.yaml`: generated once by Synapse itself (signing key, log config), then set
 * for a closed local machine: loopback only, SQLite, no federation or key servers, no stats, our
 * registrations, and rate limits out of the way of tests.
 */
export async function configureSynapse(python: string, config: SynapseConfig): Promise<string> {
  await mkdir(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, 'homeserver.yaml');
  if (!existsSync(file)) {
    await run(python, [
      '-m', 'synapse.app.homeserver',
      '--server-name', config.serverName,
      '--config-path', file,
      '--data-directory', config.dataDir,
      '--generate-config',
      '--report-stats=no',
    ], { cwd: config.dataDir });
  }
  // Synapse's own log, unbuffered, in the data folder (the generated config buffers it, relative to the cwd).
  const logConfig = path.join(config.dataDir, 'log.config.yaml');
  await writeFile(
    logConfig,
    stringify({
      version: 1,
      formatters: { precise: { format: '%(asctime)s - %(name)s - %(levelname)s - %(request)s - %(message)s' } },
      handlers: { file: { class: 'logging.FileHandler', formatter: 'precise', filename: synapseLogFile(config.dataDir), encoding: 'utf8' } },
      loggers: { 'synapse.storage.SQL': { level: 'INFO' } },
      root: { level: 'INFO', handlers: ['file'] },
      disable_existing_loggers: false,
    }),
  );
  const settings = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const generous = { per_second: 1000, burst_count: 1000 };
  Object.assign(settings, {
    server_name: config.serverName,
    public_baseurl: `http://127.0.0.1:${config.port}/`,
    listeners: [{ port: config.port, bind_addresses: ['127.0.0.1'], type: 'http', tls: false, x_forwarded: false, resources: [{ names: ['client'], compress: false }] }],
    database: { name: 'sqlite3', args: { database: path.join(config.dataDir, 'homeserver.db') } },
    media_store_path: path.join(config.dataDir, 'media'),
    app_service_config_files: config.appserviceFiles,
    registration_shared_secret: config.registrationSharedSecret,
    enable_registration: false,
    report_stats: false,
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    federation_domain_whitelist: [],
    presence: { enabled: false },
    url_preview_enabled: false,
    enable_metrics: false,
    log_config: logConfig,
    rc_message: generous,
    rc_registration: generous,
    rc_login: { address: generous, account: generous, failed_attempts: generous },
    rc_joins: { local: generous, remote: generous },
    rc_invites: { per_room: generous, per_user: generous, per_issuer: generous },
    rc_admin_redaction: generous,
  });
  await writeFile(file, stringify(settings));
  return file;
}

export function synapseLogFile(dataDir: string): string {
  return path.join(dataDir, 'homeserver.log');
}

export interface RunningSynapse {
  url: string;
  process: ChildProcess;
  /** SIGTERM, and SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Starts Synapse and waits until its /health answers. */
export async function startSynapse(python: string, configFile: string, port: number, onLog: (line: string) => void = () => undefined): Promise<RunningSynapse> {
  const child = spawn(python, ['-m', 'synapse.app.homeserver', '--config-path', configFile], {
    cwd: path.dirname(configFile),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => onLog(d.toString()));
  child.stderr!.on('data', (d: Buffer) => onLog(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`Synapse exited during start (code ${code})`))));
  const healthy = (async () => {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${url}/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('Synapse did not become healthy within 120 s');
  })();
  try {
    await Promise.race([healthy, exited]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  exited.catch(() => undefined);
  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
      await done;
      clearTimeout(kill);
    },
  };
}

/** Creates a user through Synapse's shared-secret registration (admin API); answers its id and access token. */
export async function registerSynapseUser(
  url: string,
  sharedSecret: string,
  user: { localpart: string; password: string; admin?: boolean },
): Promise<{ userId: string; accessToken: string }> {
  const endpoint = `${url}/_synapse/admin/v1/register`;
  const { nonce } = (await (await fetch(endpoint)).json()) as { nonce: string };
  const mac = createHmac('sha1', sharedSecret)
    .update([nonce, user.localpart, user.password, user.admin ? 'admin' : 'notadmin'].join('\0'))
    .digest('hex');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce, username: user.localpart, password: user.password, admin: user.admin ?? false, mac }),
  });
  const body = (await res.json()) as { user_id?: string; access_token?: string; errcode?: string; error?: string };
  if (!res.ok || !body.user_id || !body.access_token) throw new Error(`registering ${user.localpart} failed: ${res.status} ${body.errcode ?? ''} ${body.error ?? ''}`);
  return { userId: body.user_id, accessToken: body.access_token };
}
