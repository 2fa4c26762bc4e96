import { log, proxySinks, type Next, type Sinks, type WorkflowExecuteInput, type WorkflowInboundCallsInterceptor, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * Saga metrics from inside the workflow: its start and how it ended, handed to the worker through a
 * sink (src/temporal/worker.ts counts them in Prometheus), and how it ended in the log. Sinks issue no commands, so this changes
 * no history, and the worker does not call them while replaying: a saga is counted once.
 */
export interface MetricsSinks extends Sinks {
  sagaMetrics: {
    started(): void;
    ended(status: string): void;
  };
}

const { sagaMetrics } = proxySinks<MetricsSinks>();

/** The final status a saga answers (`{status}` snapshots), else what Temporal would say. */
function statusOf(result: unknown): string {
  const status = typeof result === 'object' && result !== null && 'status' in result ? (result as { status: unknown }).status : undefined;
  return typeof status === 'string' ? status : 'completed';
}

class SagaMetrics implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    sagaMetrics.started();
    try {
      const result = await next(input);
      sagaMetrics.ended(statusOf(result));
      // One line per saga in the worker's log, with its workflow id (and trace id when tracing is on).
      log.info('saga ended', { status: statusOf(result) });
      return result;
    } catch (err) {
      sagaMetrics.ended('failed_workflow');
      log.warn('saga failed', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new SagaMetrics()] });
