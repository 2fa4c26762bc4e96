import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityExecuteInput,
  type ActivityInboundCallsInterceptor,
  type InjectedSinks,
  type LogLevel,
  type Next,
  type WorkerOptions,
} from '@temporalio/worker';
import { activityRuns, sagaOutcomes, sagaStarts } from '../metrics/metrics';
import type { MetricsSinks } from '../../workflows/interceptors';
import { temporalConnectionOptions, type TlsFiles } from './connection';
import type { Logger } from '../logger';

export const WORKFLOWS_PATH = path.resolve(__dirname, '..', '..', 'workflows', 'index');
/** Bundled with the workflows (every bundle: the worker's, `npm run build`'s, the tests'). */
export const WORKFLOW_INTERCEPTOR_MODULES = [path.resolve(__dirname, '..', '..', 'workflows', 'interceptors')];

/** What every workflow bundle is made of. */
export function bundleOptions() {
  return { workflowsPath: require.resolve(WORKFLOWS_PATH), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES.map((m) => require.resolve(m)) };
}

/** The sinks the workflow interceptors call, and the activity interceptor: what the worker counts. */
export function metricsHooks(): Pick<WorkerOptions, 'sinks' | 'interceptors'> {
  const sinks: InjectedSinks<MetricsSinks> = {
    sagaMetrics: {
      started: { fn: (info) => sagaStarts.inc({ workflow: info.workflowType }), callDuringReplay: false },
      ended: { fn: (info, status) => sagaOutcomes.inc({ workflow: info.workflowType, status }), callDuringReplay: false },
    },
  };
  return { sinks, interceptors: { activity: [() => ({ inbound: new ActivityMetrics() })] } };
}

/** Counts each activity execution by type and result (`ok`, or the failure's type). */
class ActivityMetrics implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const activity = Context.current().info.activityType;
    try {
      const result = await next(input);
      activityRuns.inc({ activity, result: 'ok' });
      return result;
    } catch (err) {
      activityRuns.inc({ activity, result: err instanceof ApplicationFailure && err.type ? err.type : 'error' });
      throw err;
    }
  }
}

export interface WorkerSettings {
  address: string;
  /** As the API's client (src/temporal/connection.ts). */
  tls?: TlsFiles;
  apiKey?: string;
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

/**
 * Installs the SDK's runtime: its log lines (worker state, workflow and activity logs) through pino
 * as JSON, and, given `prometheusAddress`, its own metrics (task latencies, workflow and activity
 * outcomes, pollers) served there for the worker's metrics endpoint to pass on.
 */
export function installSdkRuntime(log: Logger, options: { level?: LogLevel; prometheusAddress?: string } = {}): void {
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(options.level ?? 'INFO', ({ level: entryLevel, message, meta }) => sdkLog[SDK_TO_PINO[entryLevel]](meta ?? {}, message)),
    ...(options.prometheusAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.prometheusAddress } } } } : {}),
  });
}

/**
 * The Temporal worker: every workflow in workflows/, and the activities it is given (src/worker.ts
 * composes them from activities/ with their dependencies, so nothing here depends on them).
 */
export async function createWorker(settings: WorkerSettings, activities: object, options: Partial<WorkerOptions> = {}) {
  const connection = await NativeConnection.connect(temporalConnectionOptions(settings));
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    ...(settings.workflowBundlePath
      ? { workflowBundle: { codePath: settings.workflowBundlePath } }
      : { workflowsPath: require.resolve(WORKFLOWS_PATH), interceptors: { workflowModules: bundleOptions().workflowInterceptorModules } }),
    activities,
    ...metricsHooks(),
    ...options,
  });
  return { worker, connection };
}
