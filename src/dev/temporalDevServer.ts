import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../domain/searchAttributes';

/**
 * The dev server has a single history shard, and each shard's task queues are read at most 20 times
 * a second by default: every workflow or activity task would wait ~25 ms before it is dispatched.
 * A cluster spreads that limit over many shards; on one shard it is lifted.
 */
const QUEUE_POLL_LIMITS = ['history.transferProcessorMaxPollRPS', 'history.timerProcessorMaxPollRPS', 'history.visibilityProcessorMaxPollRPS'];

/**
 * A workflow takes at most 10 Updates in flight by default; the rest are refused (RESOURCE_EXHAUSTED)
 * and the API sends them again. A gift opened by 200 people at once then costs hundreds of refused
 * calls; with room for them, they wait in the gift's workflow and are written in a few batches.
 */
const MAX_IN_FLIGHT_UPDATES = 500;

export interface DevServerOptions {
  cliPath: string | undefined;
  /** SQLite file that keeps workflows across restarts; omit for an in-memory server. */
  dbFile?: string;
  port?: number;
  uiPort?: number;
}

export interface RunningTemporal {
  address: string;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

/**
 * The Temporal dev server (real server, SQLite, optional Web UI), started through the SDK so the
 * same code finds a local binary or downloads one. SQLite runs with write-ahead logging so the
 * store is not the bottleneck of a benchmark.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<RunningTemporal> {
  // The SDK gives the server 5 s to listen; on a busy machine (a benchmark's or CI's two cores) it
  // sometimes needs longer, so a start that timed out is tried again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt === 3 || !(err instanceof Error && /did not start within/.test(err.message))) throw err;
    }
  }
}

async function startOnce(options: DevServerOptions): Promise<RunningTemporal> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: options.cliPath ? { type: 'existing-path', path: options.cliPath } : { type: 'cached-download' },
      ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
      ...(options.port ? { port: options.port } : {}),
      ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : { ui: false }),
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: [
        '--sqlite-pragma', 'journal_mode=wal',
        '--sqlite-pragma', 'synchronous=normal',
        ...QUEUE_POLL_LIMITS.flatMap((key) => ['--dynamic-config-value', `${key}=10000`]),
        '--dynamic-config-value', `history.maxInFlightUpdates=${MAX_IN_FLIGHT_UPDATES}`,
      ],
      log: { format: 'json', level: 'warn' },
    },
  });
  return { address: env.address, env, stop: () => env.teardown() };
}
