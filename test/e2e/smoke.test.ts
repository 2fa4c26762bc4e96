import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pinDigest } from '../../src/factors/pin';
import { loadTepKeys } from '../../src/auth/keys';
import { issueTep } from '../../src/auth/tep';
import { scratchFile } from '../helpers/scratch';
import { freePort } from '../setup/globalSetup';

/**
 * Boots the same process tree `npm start` boots (embedded PostgreSQL, Temporal dev server with UI,
 * migrations, worker, API) in a scratch data folder, uses it, stops it with Ctrl-C (SIGINT to the
 * process group, as a terminal does), and starts it again on the same data.
 */
jest.setTimeout(240_000);

let dataDir: string;
let ports: { api: number; pg: number; temporal: number; ui: number };
beforeAll(async () => {
  dataDir = scratchFile('smoke-data');
  ports = { api: await freePort(), pg: await freePort(), temporal: await freePort(), ui: await freePort() };
});

function launch(): { child: ChildProcess; output: () => string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('TMCP_TEST_')) delete env[key];
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  Object.assign(env, {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    TMCP_DATA_DIR: dataDir,
    PORT: String(ports.api),
    EMBEDDED_PG_PORT: String(ports.pg),
    TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/launcher.ts'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

async function waitForHealthy(url: string, output: () => string): Promise<any> {
  const deadline = Date.now() + 150_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = await res.json();
      if (res.ok && (last as any).status === 'ok' && output().includes('TMCP server is running')) return last;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`not healthy: ${JSON.stringify(last)}\n${output()}`);
}

async function ctrlC(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(-child.pid!, 'SIGINT');
  return exited;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the process group is gone (children may take a moment after the launcher exits). */
async function groupGone(pid: number, withinMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return true;
  } catch {
    return false;
  }
}

test('npm start runs everything, stops cleanly on Ctrl-C and keeps its data for the next start', async () => {
  const api = `http://127.0.0.1:${ports.api}`;
  const first = launch();
  const health = await waitForHealthy(`${api}/ready`, first.output);
  expect(health).toMatchObject({ postgres: { reachable: true }, temporal: { reachable: true } });
  expect(first.output()).toContain(`Temporal UI    http://localhost:${ports.ui}`);
  expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

  const keys = await loadTepKeys(path.join(dataDir, 'tep-keys.json'));
  const { token } = await issueTep(keys, { issuer: `http://localhost:${ports.api}`, ttlSeconds: 600 }, {
    userId: '@smoke:localhost', clientId: 'ma_demo', scopes: ['wallet:balance'], walletId: null,
  });
  const registered = await fetch(`${api}/api/v1/wallet/register`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}',
  });
  expect(registered.status).toBe(201);
  const walletId = ((await registered.json()) as { wallet_id: string }).wallet_id;

  // With no provider configured, npm start takes top-ups with the provider simulator, and says so.
  expect(first.output()).toMatch(/Top-ups {8}the provider simulator at http:\/\/127\.0\.0\.1:\d+ \(no TOPUP_PROVIDER configured\)/);
  const payer = await issueTep(keys, { issuer: `http://localhost:${ports.api}`, ttlSeconds: 600 }, {
    userId: '@smoke:localhost', clientId: 'ma_demo', scopes: ['wallet:balance', 'wallet:pay'], walletId: null,
  });
  const asked = await fetch(`${api}/api/v1/wallet/topup`, {
    method: 'POST', headers: { authorization: `Bearer ${payer.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ amount: '5.00', currency: 'USD', idempotency_key: 'smoke-topup' }),
  });
  expect(asked.status).toBe(201);
  const { topup_id: topUpId, checkout_url: checkoutUrl } = (await asked.json()) as { topup_id: string; checkout_url: string };
  const checkout = new URL(checkoutUrl);
  expect((await fetch(`${checkout.origin}/v1/topups/${checkout.pathname.split('/').pop()}/pay`, { method: 'POST' })).status).toBe(200);
  let status = 'pending';
  for (let i = 0; i < 100 && status === 'pending'; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    const read = await fetch(`${api}/api/v1/wallet/topup/${topUpId}`, { headers: { authorization: `Bearer ${payer.token}` } });
    status = ((await read.json()) as { status: string }).status;
  }
  expect(status).toBe('succeeded');

  // And out again: the user's messenger links a bank account and withdraws; the simulator pays it out.
  const messenger = await issueTep(keys, { issuer: `http://localhost:${ports.api}`, ttlSeconds: 600 }, {
    userId: '@smoke:localhost', clientId: 'tween_client', scopes: ['wallet:balance', 'wallet:pay'], walletId: null,
  });
  const asMessenger = (path: string, body: unknown) =>
    fetch(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${messenger.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await asMessenger('/api/v1/wallet/pin', { pin: '2468' })).status).toBe(201);
  const linked = (await (await asMessenger('/api/v1/wallet/external-accounts', { type: 'bank_account', token: 'tok_sim_00001111', currency: 'USD', idempotency_key: 'smoke-bank' })).json()) as { external_account_id: string };
  const out = await asMessenger('/api/v1/wallet/withdraw', {
    amount: '2.00', currency: 'USD', external_account_id: linked.external_account_id, idempotency_key: 'smoke-out',
    auth_proof: { method: 'pin', proof: { hashed_pin: pinDigest('2468'), device_id: 'smoke-phone' } },
  });
  expect(out.status).toBe(201);
  const withdrawalId = ((await out.json()) as { withdrawal_id: string }).withdrawal_id;
  let outcome = 'processing';
  for (let i = 0; i < 150 && outcome === 'processing'; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    const read = await fetch(`${api}/api/v1/wallet/withdrawals/${withdrawalId}`, { headers: { authorization: `Bearer ${messenger.token}` } });
    outcome = ((await read.json()) as { status: string }).status;
  }
  expect(outcome).toBe('completed');

  const firstExit = await ctrlC(first.child);
  if (firstExit !== 0) throw new Error(`launcher exited with ${firstExit}:\n${first.output()}`);
  expect(await groupGone(first.child.pid!)).toBe(true);
  expect(await portOpen(ports.api)).toBe(false);
  expect(await portOpen(ports.ui)).toBe(false);

  const second = launch();
  let secondExit: number | null;
  try {
    await waitForHealthy(`${api}/ready`, second.output);
    const again = await fetch(`${api}/api/v1/wallet/register`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}',
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { wallet_id: string }).wallet_id).toBe(walletId);
  } finally {
    secondExit = await ctrlC(second.child);
  }
  if (secondExit !== 0) throw new Error(`launcher exited with ${secondExit}:\n${second.output()}`);
  expect(await groupGone(second.child.pid!)).toBe(true);
});
