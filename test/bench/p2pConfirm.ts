import { performance } from 'node:perf_hooks';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { confirm, initiate, walletUser, type TestUser } from '../helpers/p2p';
import { startStubHomeserver } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { startWorkerProcess } from '../helpers/serverProcess';
import { summarize, type Summary } from './stats';

/**
 * N sequential P2P confirms (PIN proof) through the real API, worker,
 * PostgreSQL and Temporal dev server, timed at the HTTP client. Two cases: without a room (the
 * ledger entry only) and with a room on a local homeserver that answers at once (ledger entry plus
 * the m.tween.wallet.p2p send, whose event_id the answer carries).
 */
const WARMUP = 20;

async function timeConfirms(api: TestApi, alice: TestUser, bob: TestUser, roomId: string | undefined, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = await initiate(api, alice, { recipient: bob.userId, amount: '0.01', ...(roomId ? { room_id: roomId } : {}) });
    if (started.status !== 201) throw new Error(`initiate failed: ${JSON.stringify(started.body)}`);
    const t0 = performance.now();
    const done = await confirm(api, alice, started.body.transfer_id);
    times.push(performance.now() - t0);
    if (done.status !== 200 || done.body.status !== 'completed') throw new Error(`confirm failed: ${JSON.stringify(done.body)}`);
    if (roomId && !done.body.event_id) throw new Error('confirm answered without the event_id');
  }
  return times;
}

export async function benchP2PConfirm(n: number): Promise<Summary[]> {
  const db = await freshDatabase();
  const hs = await startStubHomeserver();
  const taskQueue = uniqueTaskQueue('bench');
  // The production worker in its own process, as `npm start` runs it.
  const worker = startWorkerProcess({
    DATABASE_URL: db.url,
    TEMPORAL_TASK_QUEUE: taskQueue,
    MATRIX_HOMESERVER_URL: hs.url,
    MATRIX_AS_TOKEN: 'bench-as-token',
    MATRIX_HS_TOKEN: 'bench-hs-token',
    MATRIX_SERVER_NAME: 'tmcp.test',
  });
  await worker.ready;
  const api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'warn' });
  try {
    const alice = await walletUser(api, { name: 'alice', fund: '1000.00' });
    const bob = await walletUser(api, { name: 'bob' });
    const results: Summary[] = [];
    for (const [name, roomId] of [['confirm, no room', undefined], ['confirm + room event', '!bench:tmcp.test']] as const) {
      await timeConfirms(api, alice, bob, roomId, WARMUP);
      results.push(summarize(`${name} (${n} after ${WARMUP} warm-up)`, await timeConfirms(api, alice, bob, roomId, n)));
    }
    return results;
  } finally {
    await api.close();
    await worker.kill();
    await hs.close();
    await db.close(); // fails if the ledger does not sum to zero
  }
}
