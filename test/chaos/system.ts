import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findTemporalCli } from '../../src/dev/temporalCli';
import { startTemporalDevServer, type RunningTemporal } from '../../src/dev/temporalDevServer';
import type { ServerProcess } from '../helpers/serverProcess';

/**
 * The parts of the chaos run that faults are injected into, each as a separate process that can be
 * killed and started again: the Temporal dev server (on one SQLite file and port, so a restart
 * keeps every workflow), the worker, and the API processes.
 */

/** A process kept running: restarted when it dies of something other than our own kill. */
export class Supervised {
  private process: ServerProcess;
  private stopping = false;
  /** Deaths nobody injected, with the last lines of the process's output. */
  readonly unexpected: string[] = [];
  kills = 0;

  constructor(
    readonly name: string,
    private readonly start: () => ServerProcess,
  ) {
    this.process = this.launch();
  }

  private launch(): ServerProcess {
    const proc = this.start();
    proc.child.once('exit', (code, signal) => {
      if (this.stopping || proc !== this.process || signal === 'SIGKILL') return;
      this.unexpected.push(`${this.name} exited (${code ?? signal}): ${proc.output().split('\n').slice(-5).join(' | ')}`);
      this.process = this.launch();
    });
    return proc;
  }

  ready(): Promise<void> {
    return this.process.ready;
  }

  /** SIGKILL, as a crash would; started again after `downMs`. */
  async crash(downMs: number): Promise<void> {
    this.kills += 1;
    await this.process.kill();
    await sleep(downMs);
    if (this.stopping) return;
    this.process = this.launch();
    await this.process.ready.catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.process.stop();
  }
}

/** The Temporal dev server on a fixed port and SQLite file: stopped and started again, it keeps every workflow. */
export class RestartableTemporal {
  private running: RunningTemporal | undefined;
  restarts = 0;

  constructor(
    private readonly dbFile: string,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.running = await startTemporalDevServer({ cliPath: findTemporalCli({ configured: process.env.TEMPORAL_CLI_PATH }), dbFile: this.dbFile, port: this.port });
  }

  async restart(downMs: number): Promise<void> {
    this.restarts += 1;
    await this.running?.stop();
    await sleep(downMs);
    await this.start();
  }

  async stop(): Promise<void> {
    await this.running?.stop();
  }
}

export function temporalFile(scratchDir: string): string {
  return path.join(scratchDir, `chaos-temporal-${process.pid}.sqlite`);
}
