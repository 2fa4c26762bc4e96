import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { configureSynapse, ensureSynapseInstalled, registerSynapseUser, startSynapse } from '../../src/dev/synapse';
import { biometricMessage } from '../../src/domain/p2p';
import { newAppserviceToken } from '../../src/matrix/registration';
import { ADMIN_TOKEN, apiClient, type ApiClient } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { matrixClient } from '../helpers/matrixUser';
import { initiate, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startApiProcess, startWorkerProcess } from '../helpers/serverProcess';
import { startStubHomeserver } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';
import { testEnv } from '../setup/env';
import { summarize, type Summary } from './stats';

/**
 * N sequential P2P confirms with a device signature through the production API and worker
 * processes, PostgreSQL and the Temporal dev server, timed at the HTTP client. Three cases: no
 * room (the ledger entry only); a room on a stub homeserver that answers at once; and a room on a
 * real Synapse (installed from PyPI into .tools/synapse when absent), where the payments bot sends
 * `m.tween.wallet.p2p`, once with the confirm waiting to answer with its event id (the default) and
 * once answering before it (MATRIX_EVENT_WAIT_MS=0).
 */
const WARMUP = 20;
const SERVER = 'tmcp.test';
const run = promisify(execFile);

interface Sender extends TestUser {
  key: KeyObject;
  deviceId: string;
}

async function deviceSender(api: ApiClient, user: TestUser): Promise<Sender> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const registered = await api.call('POST', '/api/v1/wallet/devices/register', {
    token: user.messenger,
    body: { device_id: 'bench_phone', public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...pinProof() },
  });
  if (registered.status !== 201) throw new Error(`device registration failed: ${JSON.stringify(registered.body)}`);
  return { ...user, key: privateKey, deviceId: 'bench_phone' };
}

async function timeConfirms(api: ApiClient, alice: Sender, bob: TestUser, roomId: string | undefined, count: number, withEventId = roomId !== undefined): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = await initiate(api, alice, { recipient: bob.userId, amount: '0.01', ...(roomId ? { room_id: roomId } : {}) });
    if (started.status !== 201) throw new Error(`initiate failed: ${JSON.stringify(started.body)}`);
    const transferId = started.body.transfer_id as string;
    const timestamp = new Date().toISOString();
    const signature = sign('sha256', Buffer.from(biometricMessage(transferId, '0.01', 'USD', timestamp)), { key: alice.key, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const t0 = performance.now();
    const done = await api.call('POST', `/api/v1/wallet/p2p/${transferId}/confirm`, { token: alice.token, body: { auth_proof: { method: 'biometric', proof: { signature, device_id: alice.deviceId, timestamp } } } });
    times.push(performance.now() - t0);
    if (done.status !== 200 || done.body.status !== 'completed') throw new Error(`confirm failed: ${JSON.stringify(done.body)}`);
    if (withEventId && !done.body.event_id) throw new Error('confirm answered without the event_id');
  }
  return times;
}

/**
 * The API and worker processes on a fresh database, the worker with the given Matrix settings. The
 * API gets them too only with `apiMatrix` (with Matrix on, it checks room membership, which the
 * stub homeserver's rooms do not have).
 */
async function serverProcesses(matrixEnv: Record<string, string>, port: number, apiMatrix: boolean) {
  const db = await freshDatabase();
  const { file, keys } = await testKeys();
  const env = { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('bench'), LOG_LEVEL: 'info' };
  const worker = startWorkerProcess({ ...env, ...matrixEnv });
  const api = startApiProcess(port, { ...env, ...(apiMatrix ? matrixEnv : {}), TEP_KEYS_FILE: file, ADMIN_TOKEN });
  await Promise.all([worker.ready, api.ready]);
  const client = apiClient(`http://127.0.0.1:${port}`, keys, `http://127.0.0.1:${port}`);
  return {
    client,
    async close() {
      await api.stop();
      await worker.stop();
      await db.close(); // fails if the ledger does not sum to zero
    },
  };
}

async function stubCases(n: number): Promise<Summary[]> {
  const hs = await startStubHomeserver();
  const port = await freePort();
  const system = await serverProcesses({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_AS_TOKEN: 'bench-as-token-0123456789', MATRIX_HS_TOKEN: 'bench-hs-token-0123456789', MATRIX_SERVER_NAME: SERVER }, port, false);
  try {
    const alice = await deviceSender(system.client, await walletUser(system.client, { name: 'alice', fund: '1000.00' }));
    const bob = await walletUser(system.client, { name: 'bob' });
    const results: Summary[] = [];
    for (const [name, roomId] of [['confirm, no room', undefined], ['confirm + room event, stub homeserver', '!bench:tmcp.test']] as const) {
      await timeConfirms(system.client, alice, bob, roomId, WARMUP);
      results.push(summarize(`${name} (${n} after ${WARMUP} warm-up)`, await timeConfirms(system.client, alice, bob, roomId, n)));
    }
    return results;
  } finally {
    await system.close();
    await hs.close();
  }
}

/**
 * As the Application Service suite runs it: Synapse with our registration, Alice and Bob in a room
 * with the payments bot. `eventWaitMs` is MATRIX_EVENT_WAIT_MS: how long the confirm waits for the
 * event to answer with its id (0: it answers at once and the event follows).
 */
async function synapseCase(n: number, eventWaitMs: number): Promise<Summary> {
  const [asPort, hsPort] = [await freePort(), await freePort()];
  const dataDir = path.join(testEnv('scratchDir'), `bench-synapse-${randomBytes(4).toString('hex')}`);
  const registrationFile = path.join(dataDir, 'tmcp-registration.yaml');
  const sharedSecret = randomBytes(24).toString('hex');
  const python = await ensureSynapseInstalled();
  const configFile = await configureSynapse(python, { dataDir, serverName: SERVER, port: hsPort, appserviceFiles: [registrationFile], registrationSharedSecret: sharedSecret });
  const matrixEnv = {
    MATRIX_HOMESERVER_URL: `http://127.0.0.1:${hsPort}`,
    MATRIX_AS_TOKEN: newAppserviceToken(),
    MATRIX_HS_TOKEN: newAppserviceToken(),
    MATRIX_SERVER_NAME: SERVER,
    MATRIX_AS_ID: 'tween-miniapps',
    MATRIX_AS_URL: `http://127.0.0.1:${asPort}`,
    MATRIX_EVENT_WAIT_MS: String(eventWaitMs),
  };
  await run(process.execPath, ['--import', 'tsx', 'src/cli/registration.ts', '--out', registrationFile], { env: { PATH: process.env.PATH, ...matrixEnv } });
  const synapse = await startSynapse(python, configFile, hsPort);
  const system = await serverProcesses(matrixEnv, asPort, true);
  try {
    const person = async (localpart: string) => matrixClient(synapse.url, await registerSynapseUser(synapse.url, sharedSecret, { localpart, password: randomBytes(8).toString('hex') }));
    const [alice, bob] = [await person('alice'), await person('bob')];
    const payments = `@_tmcp_payments:${SERVER}`;
    const room = await alice.createRoom([bob.userId, payments]);
    await bob.join(room);
    for (let waited = 0; !(await alice.joinedMembers(room)).includes(payments); waited += 250) {
      if (waited > 30_000) throw new Error('the payments bot did not join the room');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const sender = await deviceSender(system.client, await walletUser(system.client, { userId: alice.userId, fund: '1000.00' }));
    const recipient = await walletUser(system.client, { userId: bob.userId });
    await timeConfirms(system.client, sender, recipient, room, WARMUP, eventWaitMs > 0);
    const how = eventWaitMs > 0 ? 'answer waits for it' : 'answered before it';
    const summary = summarize(`confirm + room event, real Synapse, ${how} (${n} after ${WARMUP})`, await timeConfirms(system.client, sender, recipient, room, n, eventWaitMs > 0));
    // Every transfer's event reached the room, also those answered before it.
    for (let waited = 0; (await bob.timeline(room)).filter((e) => e.type === 'm.tween.wallet.p2p').length < WARMUP + n; waited += 500) {
      if (waited > 60_000) throw new Error('not every transfer has its event in the room');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return summary;
  } finally {
    await system.close();
    await synapse.stop();
  }
}

export async function benchP2PConfirm(n: number): Promise<Summary[]> {
  return [...(await stubCases(n)), await synapseCase(n, 3000), await synapseCase(n, 0)];
}
