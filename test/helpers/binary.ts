import { spawn, spawnSync } from 'node:child_process';
import { eventually } from './eventually';

/**
 * A server binary the tests need (Redis, stripe-mock), installed by its script when missing,
 * started on a port of the caller's choosing, and stopped with SIGTERM.
 */
export async function startBinary(options: {
  name: string;
  /** True when the binary is there. */
  installed(): boolean;
  installScript: string;
  command: string;
  args: string[];
  /** True once the server serves; `output` is what it printed so far. */
  ready(output: string): Promise<boolean>;
}): Promise<{ stop(): Promise<void> }> {
  if (!options.installed()) {
    const install = spawnSync(options.installScript, { stdio: 'inherit' });
    if (install.status !== 0) throw new Error(`${options.name} is missing and ${options.installScript} could not install it`);
  }
  const child = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const up = await eventually(() => options.ready(output), (ok) => ok, 15_000, 50);
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`${options.name} did not start:\n${output}`);
  }
  return {
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
