import { Client, Connection, type WorkflowStartOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { tracingEnabled } from '../telemetry/tracing';
import { WorkflowExecutionAlreadyStartedError, type Workflow } from '@temporalio/common';
import type { Logger } from '../logger';
import { temporalConnectionOptions, type TlsFiles } from './connection';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** A secured cluster or Temporal Cloud: TLS (with client certificate files for mTLS), or an API key. */
  tls?: TlsFiles;
  apiKey?: string;
}

export interface Temporal {
  client: Client;
  taskQueue: string;
  /** True when the frontend answers a health check within the timeout. */
  isReachable(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The API's handle on Temporal. The connection is lazy so the API starts (and reports Temporal as
 * unreachable on /health) while the Temporal server is still coming up.
 */
export function createTemporal(settings: TemporalSettings): Temporal {
  const connection = Connection.lazy(temporalConnectionOptions(settings));
  // With tracing on, starts, Updates and signals carry the caller's trace into the workflow.
  const client = new Client({ connection, namespace: settings.namespace, ...(tracingEnabled() ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}) });
  return {
    client,
    taskQueue: settings.taskQueue,
    async isReachable(timeoutMs = 2000) {
      try {
        await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
        return true;
      } catch {
        return false;
      }
    },
    close: () => connection.close(),
  };
}

/** What a start names: everything but where it runs and the once-by-id policies, which onceById adds. */
export type StartOptions<T extends Workflow> = Omit<WorkflowStartOptions<T>, 'taskQueue' | 'workflowIdConflictPolicy' | 'workflowIdReusePolicy'>;

/**
 * Start options for a workflow whose id names its work: concurrent or retried starts reach one
 * workflow (a running one is used, `USE_EXISTING`), and one that finished is never started again
 * (`REJECT_DUPLICATE`).
 */
export function onceById<T extends Workflow>(temporal: Temporal, options: StartOptions<T>): WorkflowStartOptions<T> & { workflowIdConflictPolicy: 'USE_EXISTING' } {
  return { ...options, taskQueue: temporal.taskQueue, workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE' } as WorkflowStartOptions<T> & {
    workflowIdConflictPolicy: 'USE_EXISTING';
  };
}

/** How long a start the caller can do without (an outbox's, a sweeper's) may take before it is left for later. */
export const START_TIMEOUT_MS = 5_000;

/**
 * Starts a workflow whose id names its work (an invite, a webhook event, a payment), once: a start
 * repeated by a retry, a second API replica or the sweeper reaches the running workflow, and one
 * that finished is not started again (`USE_EXISTING`, `REJECT_DUPLICATE`). True when the workflow
 * runs or ran; false, logged with `fields`, when Temporal could not be reached in time (the caller
 * leaves the work for its sweeper).
 */
export async function startIdempotently<T extends Workflow>(
  temporal: Temporal,
  log: Logger,
  workflowType: string,
  options: StartOptions<T>,
  fields: Record<string, unknown>,
  timeoutMs = START_TIMEOUT_MS,
): Promise<boolean> {
  try {
    await temporal.client.withDeadline(Date.now() + timeoutMs, () => temporal.client.workflow.start<T>(workflowType, onceById<T>(temporal, options)));
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
    log.warn({ err, ...fields, workflow_type: workflowType }, 'workflow not started yet; the sweeper retries');
    return false;
  }
}
