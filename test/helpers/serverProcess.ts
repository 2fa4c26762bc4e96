import { spawn, type ChildProcess } from 'node:child_process';
import { testEnv } from '../setup/env';
import { TEST_DATA_KEY } from './api';

export interface ServerProcess {
  child: ChildProcess;
  /** Resolves once the process serves (the API listens, the worker polls its task queue). */
  ready: Promise<void>;
  output(): string;
  /** SIGTERM and wait: the process drains and stops as in production. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would: no draining. */
  kill(): Promise<void>;
}

const ENTRY = { api: 'src/api.ts', worker: 'src/worker.ts' } as const;
const READY = { api: 'API listening', worker: 'worker running' } as const;

/** A production entry point (`src/api.ts`, `src/worker.ts`) in a process of its own, on the run's Temporal server. */
export function startServerProcess(kind: keyof typeof ENTRY, env: ProcessEnv): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY[kind]], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      WORKFLOW_BUNDLE_PATH: testEnv('workflowBundle'),
      DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
      RATE_LIMIT_SCALE: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes(READY[kind])) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${kind} exited early (${code}):\n${output}`)));
  });
  ready.catch(() => undefined);
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const signal = async (name: NodeJS.Signals) => {
    if (ended()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(name);
    await exited;
  };
  return { child, ready, output: () => output, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

type ProcessEnv = { DATABASE_URL: string; TEMPORAL_TASK_QUEUE: string } & Record<string, string>;

export function startWorkerProcess(env: ProcessEnv): ServerProcess {
  return startServerProcess('worker', env);
}

/** The API entry point listening on loopback `port`, which is also its PUBLIC_URL. */
export function startApiProcess(port: number, env: ProcessEnv & { TEP_KEYS_FILE: string; ADMIN_TOKEN: string }): ServerProcess {
  return startServerProcess('api', { HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...env });
}
