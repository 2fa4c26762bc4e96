import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../setup/globalSetup';
import { startBinary } from './binary';

const ROOT = path.resolve(__dirname, '..', '..');
const BINARY = path.join(ROOT, '.tools', 'bin', 'stripe-mock');

/** Stripe's own mock of its API on a free port, installed from the Go module proxy (scripts/install-stripe-mock.sh) when missing. */
export async function startStripeMock(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startBinary({
    name: 'stripe-mock',
    installed: () => existsSync(BINARY),
    installScript: path.join(ROOT, 'scripts', 'install-stripe-mock.sh'),
    command: BINARY,
    args: ['-http-addr', `127.0.0.1:${port}`],
    ready: () => fetch(`${url}/v1/balance`, { headers: { authorization: 'Bearer sk_test_123' } }).then((r) => r.ok, () => false),
  });
  return { url, stop: server.stop };
}
