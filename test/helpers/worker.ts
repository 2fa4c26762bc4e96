import { randomBytes } from 'node:crypto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createActivities, type ActivityDeps } from '../../activities';
import type { ProviderRegistry } from '../../src/providers/registry';
import { loadConfig } from '../../src/config';
import { workerHooks } from '../../src/temporal/worker';
import type { MatrixSettings } from '../../src/matrix/client';
import { testEnv } from '../setup/env';
import { TEST_DATA_KEY } from './api';
import type { TestDatabase } from './db';

export interface TestWorker {
  taskQueue: string;
  stop(): Promise<void>;
}

export interface TestWorkerOptions {
  taskQueue: string;
  matrix?: MatrixSettings;
  connection?: NativeConnection;
  namespace?: string;
  now?: ActivityDeps['now'];
  lockout?: ActivityDeps['lockout'];
  log?: ActivityDeps['log'];
  payments?: ActivityDeps['payments'];
  /** Outside production webhooks may reach loopback (the test receivers); false: as in production. */
  webhookAllowPrivate?: boolean;
  /** Wallet providers for top-ups (none by default). */
  providers?: ProviderRegistry;
}

/** A unique task queue per test file, so workers of parallel files never take each other's tasks. */
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomBytes(4).toString('hex')}`;
}

/** The SDK logs every worker state change at INFO; tests want its warnings only. */
function quietSdk(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed already by an earlier worker in this process
  }
}

/**
 * The real worker (the prebundled workflows and every activity) on the test file's database,
 * polling its own task queue on the shared Temporal server (or the given connection).
 */
export async function startTestWorker(
  db: TestDatabase,
  options: TestWorkerOptions,
): Promise<TestWorker> {
  quietSdk();
  const ownConnection = options.connection ? undefined : await NativeConnection.connect({ address: testEnv('temporalAddress') });
  const worker = await Worker.create({
    connection: options.connection ?? ownConnection!,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: { codePath: testEnv('workflowBundle') },
    ...workerHooks(),
    activities: createActivities({
      pool: db.pool,
      log: options.log ?? pino({ level: 'silent' }),
      matrix: options.matrix,
      now: options.now,
      dataKey: Buffer.from(TEST_DATA_KEY, 'hex'),
      lockout: options.lockout ?? loadConfig({ NODE_ENV: 'test' }).lockout,
      wallet: loadConfig({ NODE_ENV: 'test' }).wallet,
      payments: options.payments ?? loadConfig({ NODE_ENV: 'test' }).payments,
      webhookAllowPrivate: options.webhookAllowPrivate ?? true,
      providers: options.providers,
    }),
  });
  const running = worker.run();
  return {
    taskQueue: options.taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await ownConnection?.close();
    },
  };
}
