import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'slonik';
import { z } from 'zod';
import { p2pWorkflowId } from '../../src/domain/p2p';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { available, confirm, initiate, walletUser } from '../helpers/p2p';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';
import { uniqueTaskQueue } from '../helpers/worker';
import { testEnv } from '../setup/env';

/**
 * Crash safety: the real worker process (`src/worker.ts`) is killed with SIGKILL after the ledger
 * write, while the homeserver holds the event send; a new worker finishes the saga. The ledger has
 * one entry and the room one event (the retried send reuses its txnId).
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
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

function startWorkerProcess(): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: testEnv('workflowBundle'),
      MATRIX_HOMESERVER_URL: hs.url,
      MATRIX_AS_TOKEN: AS_TOKEN,
      MATRIX_SERVER_NAME: 'tmcp.test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited early (${code}):\n${output}`)));
  });
  return { child, ready, output: () => output };
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

test('a worker killed between the ledger write and the Matrix send leaves one entry and one event after restart', async () => {
  const alice = await walletUser(api, { name: 'alice', fund: '30.00' });
  const bob = await walletUser(api, { name: 'bob' });
  const id = (await initiate(api, alice, { recipient: bob.userId, amount: '7.00', room_id: '!crash:tmcp.test' })).body.transfer_id;

  const first = startWorkerProcess();
  await first.ready;
  hs.reply('hold');
  const sendStarted = hs.nextRequest();
  const confirmed = confirm(api, alice, id);
  await sendStarted;

  // The money has moved: settlement commits before the event is sent.
  expect(await available(api, bob)).toBe(7);
  await killed(first.child);

  const second = startWorkerProcess();
  try {
    await second.ready;
    const answer = await confirmed;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('completed');
    const result = await api.temporal.client.workflow.getHandle(p2pWorkflowId(id)).result();
    expect(result.status).toBe('completed');

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
    await killed(second.child);
  }
});
