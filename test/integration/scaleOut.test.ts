import { sql } from 'slonik';
import { z } from 'zod';
import { Connection, Client } from '@temporalio/client';
import { ADMIN_TOKEN, apiClient } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { testKeys } from '../helpers/keys';
import { confirm, initiate, walletUser, type TestUser } from '../helpers/p2p';
import { startApiProcess, startWorkerProcess, type ServerProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';
import { testEnv } from '../setup/env';

/**
 * Past one process: two API processes and two worker processes on one Temporal and one
 * PostgreSQL, under P2P load where each transfer is initiated through one API and confirmed
 * through the other. Every transfer settles once, every saga finishes, and the money is conserved.
 */
let db: TestDatabase;
const procs: ServerProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await db?.close();
});

const PAIRS = 8;
const ROUNDS = 4;

test('two API processes and two workers share the load; every transfer settles once and every saga ends', async () => {
  const taskQueue = uniqueTaskQueue('scale');
  const { file, keys } = await testKeys();
  const ports = [await freePort(), await freePort()];
  const apis = ports.map((port) => startApiProcess(port, { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue, TEP_KEYS_FILE: file, ADMIN_TOKEN }));
  const workers = [0, 1].map(() => startWorkerProcess({ DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue }));
  procs.push(...apis, ...workers);
  await Promise.all([...apis, ...workers].map((p) => p.ready));
  const clients = ports.map((port) => apiClient(`http://127.0.0.1:${port}`, keys, `http://127.0.0.1:${port}`));
  // Each API is its own issuer (PUBLIC_URL): a user's tokens are minted for the API they call.
  const [a, b] = clients as [ReturnType<typeof apiClient>, ReturnType<typeof apiClient>];

  const pairs: { sender: TestUser; onB: TestUser; recipient: TestUser }[] = [];
  for (let i = 0; i < PAIRS; i += 1) {
    const sender = await walletUser(a, { name: `s${i}`, fund: '100.00' });
    const recipient = await walletUser(a, { name: `r${i}` });
    const onB = { ...sender, token: await b.token(sender.userId, ['wallet:balance', 'wallet:pay', 'wallet:history']) };
    pairs.push({ sender, onB, recipient });
  }

  let settled = 0;
  await Promise.all(
    pairs.map(async ({ sender, onB, recipient }) => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const started = await initiate(a, sender, { recipient: recipient.userId, amount: '1.25' });
        expect(started.status).toBe(201);
        const done = await confirm(b, onB, started.body.transfer_id);
        expect(done.body.status).toBe('completed');
        settled += 1;
      }
    }),
  );
  expect(settled).toBe(PAIRS * ROUNDS);

  // One ledger entry per transfer, and each wallet as the transfers imply.
  const ledger = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM journal_entries WHERE kind = 'p2p_transfer'`);
  expect(ledger).toBe(PAIRS * ROUNDS);
  for (const { sender, recipient } of pairs) {
    const balance = async (u: TestUser) => (await a.call('GET', '/api/v1/wallet/balance', { token: u.token })).body.balance.available as number;
    expect([await balance(sender), await balance(recipient)]).toEqual([100 - 1.25 * ROUNDS, 1.25 * ROUNDS]);
  }
  // Every saga finished.
  const connection = await Connection.connect({ address: testEnv('temporalAddress') });
  try {
    const client = new Client({ connection });
    const count = async (query: string) => (await client.workflow.count(query)).count;
    expect(await eventually(() => count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`), (n) => n === 0)).toBe(0);
    expect(await count(`TaskQueue = '${taskQueue}' AND WorkflowType = 'p2pSaga' AND ExecutionStatus = 'Completed'`)).toBe(PAIRS * ROUNDS);
  } finally {
    await connection.close();
  }
  const funded = await db.pool.oneFirst(sql.type(z.object({ b: z.bigint() }))`SELECT coalesce(sum(balance), 0)::int8 AS b FROM accounts WHERE kind = 'wallet'`);
  expect(funded).toBe(BigInt(PAIRS * 10_000));
  expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
}, 180_000);
