import { spawnSync } from 'node:child_process';
import { freePort } from '../setup/globalSetup';
import { startBinary } from './binary';

/** A throwaway redis-server on a free port, installed from Debian (scripts/install-redis.sh) when missing. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const server = await startBinary({
    name: 'redis-server',
    installed: () => spawnSync('sh', ['-c', 'command -v redis-server']).status === 0,
    installScript: 'scripts/install-redis.sh',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: async (output) => output.includes('Ready to accept connections'),
  });
  return { url: `redis://127.0.0.1:${port}`, stop: server.stop };
}
