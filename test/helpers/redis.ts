import { spawn, spawnSync } from 'node:child_process';
import { freePort } from '../setup/globalSetup';
import { eventually } from './eventually';

/** A throwaway redis-server on a free port, installed from Debian (scripts/install-redis.sh) when missing. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
    const installed = spawnSync('scripts/install-redis.sh', { stdio: 'inherit' });
    if (installed.status !== 0) throw new Error('redis-server is missing and scripts/install-redis.sh could not install it');
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const ready = await eventually(async () => output.includes('Ready to accept connections'), (ok) => ok, 10_000, 50);
  if (!ready) throw new Error(`redis-server did not start:\n${output}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
