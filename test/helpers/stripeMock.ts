import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../setup/globalSetup';
import { eventually } from './eventually';

const BINARY = path.resolve(__dirname, '..', '..', '.tools', 'bin', 'stripe-mock');

/** Stripe's own mock of its API on a free port, installed from the Go module proxy (scripts/install-stripe-mock.sh) when missing. */
export async function startStripeMock(): Promise<{ url: string; stop(): Promise<void> }> {
  if (!existsSync(BINARY)) {
    const installed = spawnSync(path.resolve(__dirname, '..', '..', 'scripts', 'install-stripe-mock.sh'), { stdio: 'inherit' });
    if (installed.status !== 0) throw new Error('stripe-mock is missing and scripts/install-stripe-mock.sh could not install it');
  }
  const port = await freePort();
  const child = spawn(BINARY, ['-http-addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const up = await eventually(
    () => fetch(`${url}/v1/balance`, { headers: { authorization: 'Bearer sk_test_123' } }).then((r) => r.ok, () => false),
    (ok) => ok,
    15_000,
    100,
  );
  if (!up) throw new Error(`stripe-mock did not start:\n${output}`);
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
