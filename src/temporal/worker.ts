import { existsSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  TransportError,
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
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, type OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import { tracingEnabled, workflowSpanProcessor } from '../telemetry/tracing';
import { temporalConnectionOptions, type TlsFiles } from './connection';
import type { Logger } from '../logger';
import { untilReachable } from '../untilReachable';

export const WORKFLOWS_PATH = path.resolve(__dirname, '..', '..', 'workflows', 'index');
/** Bundled with the workflows (every bundle: the worker's, `npm run build`'s, the tests'). */
export const WORKFLOW_INTERCEPTOR_MODULES = [path.resolve(__dirname, '..', '..', 'workflows', 'interceptors')];
/**
 * Workflow and activity-scheduling spans, exported through the `exporter` sink. Only in a bundle
 * for tracing: making spans inside every workflow activation costs the worker about 7 ms of CPU per
 * transfer even when nobody collects them (measured with bench:load). Either bundle replays the
 * other's histories: the interceptor issues no commands.
 */
const TRACING_INTERCEPTOR_MODULE = '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';

/** What a workflow bundle is made of: with tracing, the OpenTelemetry workflow interceptor too. */
export function bundleOptions(options: { tracing?: boolean } = {}) {
  const workflowsPath = require.resolve(WORKFLOWS_PATH);
  const ours = WORKFLOW_INTERCEPTOR_MODULES.map((m) => require.resolve(m));
  // The tracing interceptor first, so it is the outermost: ours run inside the workflow's span, and
  // their log lines carry its trace id.
  const modules = [...(options.tracing ? [require.resolve(TRACING_INTERCEPTOR_MODULE)] : []), ...ours];
  // Our workflow modules (and src/domain with them) are loaded once and shared by every workflow,
  // instead of evaluated again for each: they keep no state of their own at module level (constants,
  // and activity and sink proxies that find the running workflow when called), so sharing them is
  // safe; shared functions also get optimized by V8 (-9% of the worker's CPU per P2P saga, paired
  // A/B). The SDK freezes what it preloads.
  return { workflowsPath, workflowInterceptorModules: modules, preloadModules: [workflowsPath, ...ours] };
}

/** `npm run build` writes both bundles; with tracing on, the worker loads the traced one beside the one configured. */
export function bundleFor(configured: string, tracing: boolean): string {
  const traced = configured.replace(/\.js$/, '.traced.js');
  return tracing && traced !== configured && existsSync(traced) ? traced : configured;
}

/** The sinks the workflow interceptors call (saga metrics, workflow spans) and the activity interceptors (metrics, and spans with tracing on). */
export function workerHooks(): Pick<WorkerOptions, 'sinks' | 'interceptors'> {
  const tracing = tracingEnabled() ? workflowSpanProcessor() : undefined;
  const sinks: InjectedSinks<MetricsSinks & OpenTelemetrySinks> = {
    sagaMetrics: {
      started: { fn: (info) => sagaStarts.inc({ workflow: info.workflowType }), callDuringReplay: false },
      ended: { fn: (info, status) => sagaOutcomes.inc({ workflow: info.workflowType, status }), callDuringReplay: false },
    },
    exporter: tracing ? makeWorkflowExporter(tracing.processor, tracing.resource) : { export: { fn: () => undefined, callDuringReplay: false } },
  };
  const activity: NonNullable<WorkerOptions['interceptors']>['activity'] = [() => ({ inbound: new ActivityMetrics() })];
  if (tracing) activity.push((ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) }));
  return { sinks, interceptors: { activity } };
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
  /** Stack traces of running workflows for the Web UI (WORKFLOW_STACK_TRACES). */
  workflowStackTraces?: boolean;
  /**
   * Given, a server that cannot be reached yet is waited for (each try logged here) instead of
   * failing the start: a worker process may start before Temporal, or while it restarts.
   */
  waitForServer?: Logger;
}

const SDK_TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** pino's level as the SDK's (pino's fatal and silent have none: ERROR, the quietest). */
const sdkLevelOf = (level: string): LogLevel => (Object.keys(SDK_TO_PINO) as LogLevel[]).find((sdk) => SDK_TO_PINO[sdk] === level) ?? 'ERROR';

/**
 * Installs the SDK's runtime: its log lines (worker state, workflow and activity logs) through pino
 * as JSON, and, given `prometheusAddress`, its own metrics (task latencies, workflow and activity
 * outcomes, pollers) served there for the worker's metrics endpoint to pass on.
 */
export function installSdkRuntime(log: Logger, options: { prometheusAddress?: string } = {}): void {
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    // As verbose as LOG_LEVEL: at debug the workflows' own lines (started, completed, updates) show,
    // with their workflow id and, when tracing is on, the trace id.
    logger: new DefaultLogger(sdkLevelOf(log.level), ({ level: entryLevel, message, meta }) => sdkLog[SDK_TO_PINO[entryLevel]](meta ?? {}, message)),
    ...(options.prometheusAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.prometheusAddress } } } } : {}),
  });
}

/**
 * Whether the workers this process creates next record a stack trace for every promise a workflow
 * makes (for the Web UI's Stack Trace tab). Read by the SDK's workflow threads, which start with a
 * copy of this environment (patches/@temporalio+worker: the SDK has no option for it).
 */
export function setWorkflowStackTraces(enabled: boolean): void {
  process.env.TEMPORAL_WORKFLOW_STACK_TRACES = enabled ? '1' : '0';
}

/**
 * The Temporal worker: every workflow in workflows/, and the activities it is given (src/worker.ts
 * composes them from activities/ with their dependencies, so nothing here depends on them).
 */
export async function createWorker(settings: WorkerSettings, activities: object, options: Partial<WorkerOptions> = {}) {
  setWorkflowStackTraces(settings.workflowStackTraces ?? false);
  const connection = await connectWhenReachable(settings);
  const hooks = workerHooks();
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    ...(settings.workflowBundlePath
      ? { workflowBundle: { codePath: bundleFor(settings.workflowBundlePath, tracingEnabled()) } }
      : { workflowsPath: require.resolve(WORKFLOWS_PATH) }),
    activities,
    sinks: hooks.sinks,
    // Bundled at start (no prebuilt bundle): the workflow interceptors go in with the workflows.
    interceptors: {
      ...hooks.interceptors,
      ...(settings.workflowBundlePath ? {} : { workflowModules: bundleOptions({ tracing: tracingEnabled() }).workflowInterceptorModules }),
    },
    ...(settings.workflowBundlePath ? {} : { bundlerOptions: { preloadModules: bundleOptions().preloadModules } }),
    ...options,
  }).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  return { worker, connection };
}

/**
 * Only the connection is tried again: once connected, a refused start (a namespace that does not
 * exist, which the SDK also reports as a TransportError) is a mistake to fail on at once.
 */
function connectWhenReachable(settings: WorkerSettings): Promise<NativeConnection> {
  return untilReachable(() => NativeConnection.connect(temporalConnectionOptions(settings)), {
    unreachable: (err) => err instanceof TransportError,
    log: settings.waitForServer,
    message: 'Temporal not reachable, waiting',
    fields: { temporal_address: settings.address },
  });
}
