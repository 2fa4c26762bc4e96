import { spawn, type ChildProcess } from 'node:child_process';
import { testEnv } from '../setup/env';
import { TEST_DATA_KEY } from './api';

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker polls its task queue. */
  ready: Promise<void>;
  output(): string;
  /** SIGKILL, as a crash would: no draining. */
  kill(): Promise<void>;
}

/** The production worker entry point (`src/worker.ts`) in a process of its own, on the run's Temporal server. */
export function startWorkerProcess(env: { DATABASE_URL: string; TEMPORAL_TASK_QUEUE: string } & Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      WORKFLOW_BUNDLE_PATH: testEnv('workflowBundle'),
      DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited early (${code}):\n${output}`)));
  });
  return {
    child,
    ready,
    output: () => output,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
