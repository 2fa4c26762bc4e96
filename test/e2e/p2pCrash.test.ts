import { sql } from 'slonik';
import { z } from 'zod';
import { p2pWorkflowId } from '../../src/domain/p2p';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { available, confirm, initiate, walletUser } from '../helpers/p2p';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { startWorkerProcess } from '../helpers/serverProcess';

/**
 * Crash safety: the real worker process (`src/worker.ts`) is killed with SIGKILL after the ledger
 * write, while the homeserver holds the event send. The first send runs inside the workflow task
 * that settled, so the new worker runs that task again: verification and settlement see the
 * committed transfer and write nothing, then the send is retried. The ledger has one entry and the
 * room one event (the retried send reuses its txnId). The confirm call does not wait for all that:
 * it answers 503 after SAGA_ANSWER_TIMEOUT_MS, and the same call repeated later gets the outcome.
 */
jest.setTimeout(120_000);

const AS_TOKEN = 'as-token-crash-test-0123456789abcdef';
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
let taskQueue: string;

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  taskQueue = uniqueTaskQueue('crash');
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue, SAGA_ANSWER_TIMEOUT_MS: '4000' });
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

function workerProcess() {
  return startWorkerProcess({
    DATABASE_URL: db.url,
    TEMPORAL_TASK_QUEUE: taskQueue,
    MATRIX_HOMESERVER_URL: hs.url,
    MATRIX_AS_TOKEN: AS_TOKEN,
    MATRIX_HS_TOKEN: 'hs-token-crash-test-not-used-by-the-worker',
    MATRIX_SERVER_NAME: 'tmcp.test',
  });
}

test('a worker killed between the ledger write and the Matrix send leaves one entry and one event after restart', async () => {
  const alice = await walletUser(api, { name: 'alice', fund: '30.00' });
  const bob = await walletUser(api, { name: 'bob' });
  const id = (await initiate(api, alice, { recipient: bob.userId, amount: '7.00', room_id: '!crash:tmcp.test' })).body.transfer_id;

  const first = workerProcess();
  await first.ready;
  hs.reply('hold');
  const sendStarted = hs.nextRequest();
  const confirmed = confirm(api, alice, id);
  await sendStarted;

  // The money has moved: settlement commits before the event is sent.
  expect(await available(api, bob)).toBe(7);
  await first.kill();

  // The killed worker's workflow task is taken again only when it times out (10 s): confirm does not wait that long.
  const answer = await confirmed;
  expect(answer.status).toBe(503);
  expect(answer.body.error.code).toBe('SERVICE_UNAVAILABLE');
  expect(answer.headers.get('retry-after')).toBe('5');

  const second = workerProcess();
  try {
    await second.ready;
    const result = await api.temporal.client.workflow.getHandle(p2pWorkflowId(id)).result();
    expect(result.status).toBe('completed');
    // The client repeats its call and learns what the first one did.
    const retried = await confirm(api, alice, id);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('completed');

    const entries = await db.pool.anyFirst(sql.type(z.object({ kind: z.string() }))`SELECT kind FROM journal_entries WHERE reference = ${id}`);
    expect(entries).toEqual(['p2p_transfer']);
    expect(await available(api, alice)).toBe(23);
    expect(await available(api, bob)).toBe(7);

    const sends = hs.requests.filter((r) => r.content.transfer_id === id);
    expect(sends.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sends.map((s) => s.txnId))).toEqual(new Set([`p2p-${id}.transfer`]));
    const events = hs.events().filter((e) => e.content.transfer_id === id);
    expect(events).toHaveLength(1);
    const row = await db.pool.one(sql.type(z.object({ event_id: z.string().nullable() }))`SELECT event_id FROM p2p_transfers WHERE id = ${id}`);
    expect(row.event_id).toBe(events[0]!.eventId);
  } finally {
    await second.kill();
  }
});
