import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from '../logger';

export const WORKFLOWS_PATH = path.resolve(__dirname, '..', '..', 'workflows', 'index');

export interface WorkerSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (npm run build) saves production workers the bundling step at start. */
  workflowBundlePath?: string;
}

const SDK_TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Sends the SDK's own log lines (worker state, workflow and activity logs) through pino as JSON. */
export function installSdkLogging(log: Logger, level: LogLevel = 'INFO'): void {
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: entryLevel, message, meta }) => sdkLog[SDK_TO_PINO[entryLevel]](meta ?? {}, message)),
  });
}

/**
 * The Temporal worker: every workflow in workflows/, and the activities it is given (src/worker.ts
 * composes them from activities/ with their dependencies, so nothing here depends on them).
 */
export async function createWorker(settings: WorkerSettings, activities: object, options: Partial<WorkerOptions> = {}) {
  const connection = await NativeConnection.connect({ address: settings.address });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    ...(settings.workflowBundlePath
      ? { workflowBundle: { codePath: settings.workflowBundlePath } }
      : { workflowsPath: require.resolve(WORKFLOWS_PATH) }),
    activities,
    ...options,
  });
  return { worker, connection };
}
