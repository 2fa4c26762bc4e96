import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { ensureTemporalCli } from '../../../src/dev/temporalCli';
import { startTemporalDevServer, type RunningTemporal } from '../../../src/dev/temporalDevServer';
import { setWorkflowStackTraces } from '../../../src/temporal/worker';
import { clockTicksPerSecond, cpuDelta, cpuSnapshot } from '../load/processes';
import type { emptyUpdateWorkflow, emptyWorkflow } from './workflows';

/**
 * `npm run bench:floor`: what an empty workflow costs on this machine, the floor under every saga.
 * Starts the Temporal dev server as `npm start` does (SQLite file, same flags) unless
 * TEMPORAL_ADDRESS is set, runs a worker with two empty workflows in this process, and runs
 * BENCH_FLOOR_N (500) of each from 16 concurrent callers: `execute` (start, one workflow task,
 * result) and Update-with-Start (as a P2P confirm starts p2pSaga). Prints workflows per second and
 * the CPU milliseconds per workflow of the server and of this process (client and worker).
 */
const CALLERS = 16;
const TASK_QUEUE = 'bench-floor';

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_FLOOR_N ?? 500);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tmcp-floor-'));
  let server: RunningTemporal | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    const cliPath = await ensureTemporalCli({}, (line) => console.log(line));
    server = await startTemporalDevServer({ cliPath, dbFile: path.join(dataDir, 'temporal.sqlite') });
    address = server.address;
  }
  // This process is the dev server's parent: its subtree is the server, its own time client and worker.
  const snapshot = () => cpuSnapshot(process.pid, { postgres: true, temporal: server === undefined });
  const ticksPerMs = clockTicksPerSecond() / 1000;
  const connection = await NativeConnection.connect({ address });
  // As the system's worker runs (WORKFLOW_STACK_TRACES off): the SDK's default, a stack trace per
  // promise, would make the floor dearer than the emptiest saga the system can run.
  setWorkflowStackTraces(false);
  const worker = await Worker.create({ connection, taskQueue: TASK_QUEUE, workflowsPath: require.resolve('./workflows') });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  try {
    console.log(`${n} workflows per case from ${CALLERS} concurrent callers; server ${server ? 'dev server (SQLite file), started here' : address}`);
    for (const mode of ['execute', 'update-with-start'] as const) {
      let next = 0;
      const before = snapshot();
      const started = Date.now();
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (next < n) {
            const workflowId = `floor-${mode}-${started}-${next++}`;
            if (mode === 'execute') {
              await client.workflow.execute<typeof emptyWorkflow>('emptyWorkflow', { taskQueue: TASK_QUEUE, workflowId });
            } else {
              const start = new WithStartWorkflowOperation<typeof emptyUpdateWorkflow>('emptyUpdateWorkflow', { taskQueue: TASK_QUEUE, workflowId, workflowIdConflictPolicy: 'USE_EXISTING' });
              await client.workflow.executeUpdateWithStart('finish', { args: ['now'], startWorkflowOperation: start });
            }
          }
        }),
      );
      const elapsedMs = Date.now() - started;
      const { roles } = cpuDelta(before, snapshot());
      const perWorkflow = (ticks: number | null) => (ticks === null ? 'n/a' : (ticks / ticksPerMs / n).toFixed(1));
      console.log(
        `${mode.padEnd(18)} ${((n / elapsedMs) * 1000).toFixed(1).padStart(6)} workflows/s  server ${perWorkflow(roles.temporal)} ms/workflow  ` +
          `client+worker ${perWorkflow(roles.other)} ms/workflow`,
      );
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
