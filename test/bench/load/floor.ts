import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { setWorkflowStackTraces } from '../../../src/temporal/worker';
import type { emptyUpdateWorkflow } from '../floor/workflows';

const TASK_QUEUE = 'bench-floor';

/**
 * The floor scenario of bench:load: the emptiest workflow a saga could be, started the way a P2P
 * confirm starts p2pSaga (Update-with-Start, answered and completed in its first task), on the
 * system's own Temporal server. Client and worker live in the calling process, so that process's
 * CPU is the SDK's share and the server's is the server's.
 */
export async function startFloor(address: string, prefix: string): Promise<{ operation: (i: number) => Promise<{ ok: true }>; stop: () => Promise<void> }> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  // As the system's worker runs (WORKFLOW_STACK_TRACES off): the SDK's default, a stack trace per
  // promise, would make the floor dearer than the emptiest saga the system can run.
  setWorkflowStackTraces(false);
  const worker = await Worker.create({ connection, taskQueue: TASK_QUEUE, workflowsPath: require.resolve('../floor/workflows') });
  const running = worker.run();
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  let next = 0;
  const operation = async (): Promise<{ ok: true }> => {
    const start = new WithStartWorkflowOperation<typeof emptyUpdateWorkflow>('emptyUpdateWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: `${prefix}-floor-${(next += 1)}`,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    await client.workflow.executeUpdateWithStart('finish', { args: ['now'], startWorkflowOperation: start });
    return { ok: true };
  };
  const stop = async () => {
    worker.shutdown();
    await running;
    await clientConnection.close();
    await connection.close();
  };
  return { operation, stop };
}
