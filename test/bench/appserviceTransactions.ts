import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { freshDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { ADMIN_TOKEN } from '../helpers/api';
import { startApiProcess } from '../helpers/serverProcess';
import { startStubHomeserver, stubMatrixEnv } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';
import { summarize, type Summary } from './stats';

/**
 * Synapse-shaped Application Service transactions against the production API process, sent one at a
 * time as Synapse sends them: EVENTS_PER_TRANSACTION events each (a fifth joins of new users to one
 * of 20 rooms, the rest messages), timed at the HTTP client; then every transaction id again, as
 * Synapse repeats one whose answer it lost (the server answers from its record, applying nothing).
 */
const EVENTS_PER_TRANSACTION = 50;
const WARMUP = 10;

function transactionEvents(n: number): unknown[] {
  return Array.from({ length: EVENTS_PER_TRANSACTION }, (_, i) => {
    const roomId = `!room${(n * EVENTS_PER_TRANSACTION + i) % 20}:tmcp.test`;
    const userId = `@member${n}_${i}:tmcp.test`;
    const base = { room_id: roomId, event_id: `$${randomBytes(12).toString('base64url')}`, origin_server_ts: Date.now(), unsigned: { age: 1 } };
    return i % 5 === 0
      ? { ...base, type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'join', displayname: `Member ${n}.${i}` } }
      : { ...base, type: 'm.room.message', sender: `@member${n}_0:tmcp.test`, content: { msgtype: 'm.text', body: `hello ${i}` } };
  });
}

export async function benchAppserviceTransactions(n: number): Promise<{ rows: Summary[]; eventsPerSecond: { first: number; repeated: number } }> {
  const db = await freshDatabase();
  const hs = await startStubHomeserver();
  const { file } = await testKeys();
  const port = await freePort();
  const env = stubMatrixEnv(hs, 'bench');
  const api = startApiProcess(port, { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('bench-as'), TEP_KEYS_FILE: file, ADMIN_TOKEN, LOG_LEVEL: 'info', ...env });
  await api.ready;
  const put = async (txnId: string, events: unknown[]) => {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/_matrix/app/v1/transactions/${txnId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${env.MATRIX_HS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`transaction ${txnId} answered ${res.status}`);
    return performance.now() - t0;
  };
  try {
    const run = randomBytes(4).toString('hex');
    const bodies = Array.from({ length: WARMUP + n }, (_, i) => ({ txnId: `${run}-${i}`, events: transactionEvents(i) }));
    for (const b of bodies.slice(0, WARMUP)) await put(b.txnId, b.events);
    const timed = bodies.slice(WARMUP);
    const time = async () => {
      const started = performance.now();
      const times: number[] = [];
      for (const b of timed) times.push(await put(b.txnId, b.events));
      return { times, eventsPerSecond: (timed.length * EVENTS_PER_TRANSACTION) / ((performance.now() - started) / 1000) };
    };
    const first = await time();
    const repeated = await time();
    return {
      rows: [
        summarize(`AS transaction of ${EVENTS_PER_TRANSACTION} events (${n} after ${WARMUP})`, first.times),
        summarize(`the same transaction ids again (${n})`, repeated.times),
      ],
      eventsPerSecond: { first: first.eventsPerSecond, repeated: repeated.eventsPerSecond },
    };
  } finally {
    await api.stop();
    await hs.close();
    await db.close();
  }
}
