import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import pg from 'pg';
import { migrate } from '../../src/db/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/dev/embeddedPostgres';
import { findTemporalCli } from '../../src/dev/temporalCli';
import { startTemporalDevServer, type RunningTemporal } from '../../src/dev/temporalDevServer';
import { bundleOptions } from '../../src/temporal/worker';
import { ensureChromium } from '../helpers/chromium';
import { TEMPLATE_DATABASE, TEST_ENV } from './env';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const quietBundler = { trace() {}, debug() {}, info() {}, log() {}, warn: console.warn, error: console.error };

/**
 * Starts PostgreSQL and Temporal once per test run (or uses DATABASE_URL / TEMPORAL_ADDRESS), and
 * migrates a template database that every test file clones into its own fresh database.
 */
export default async function globalSetup(): Promise<void> {
  // First, so a machine without a browser learns it in the first seconds, not after the suite.
  ensureChromium();
  const scratchDir = await mkdtemp(path.join(tmpdir(), 'tmcp-test-'));
  // As root, PostgreSQL runs as the postgres user and must reach its data folder.
  await chmod(scratchDir, 0o755);
  const handles: { postgres?: RunningPostgres; temporal?: RunningTemporal; scratchDir: string } = { scratchDir };
  (globalThis as Record<string, unknown>).__tmcpTestHandles = handles;

  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    handles.postgres = await startEmbeddedPostgres({
      dataDir: path.join(scratchDir, 'postgres'),
      port: await freePort(),
      password: 'test-only-password',
      database: 'postgres',
      persistent: false,
      unsafeFast: true,
    });
    adminUrl = handles.postgres.adminUrl;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  await migrate(templateUrl.toString());

  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    handles.temporal = await startTemporalDevServer({ cliPath: findTemporalCli({ configured: process.env.TEMPORAL_CLI_PATH }) });
    temporalAddress = handles.temporal.address;
  }
  const bundlePath = path.join(scratchDir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ ...bundleOptions(), logger: quietBundler });
  await writeFile(bundlePath, code);

  process.env[TEST_ENV.workflowBundle] = bundlePath;
  process.env[TEST_ENV.adminUrl] = adminUrl;
  process.env[TEST_ENV.temporalAddress] = temporalAddress;
  process.env[TEST_ENV.scratchDir] = scratchDir;
}
