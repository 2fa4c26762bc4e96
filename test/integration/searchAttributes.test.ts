import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { confirm, initiate, walletUser } from '../helpers/p2p';
import { startTestApi, type TestApi } from '../helpers/api';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/**
 * What an operator filters in the Temporal UI: sagas of one mini-app (`TmcpClientId`) by status,
 * and the summaries workflows show. The queries are the README's.
 */
let db: TestDatabase;
let api: TestApi;
let worker: TestWorker;

beforeAll(async () => {
  db = await freshDatabase();
  const taskQueue = uniqueTaskQueue('attributes');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await db?.close();
});

async function ids(query: string): Promise<string[]> {
  const found: string[] = [];
  for await (const w of api.temporal.client.workflow.list({ query })) found.push(w.workflowId);
  return found;
}

test("one mini-app's sagas by status, and a device grant's summary", async () => {
  const alice = await walletUser(api, { name: 'alice', fund: '10.00' });
  const bob = await walletUser(api, { name: 'bob' });
  const id = (await initiate(api, alice, { recipient: bob.userId, amount: '2.00' })).body.transfer_id;
  expect((await confirm(api, alice, id)).body.status).toBe('completed');
  const completed = await eventually(
    () => ids(`WorkflowType = 'p2pSaga' AND TmcpClientId = 'ma_demo' AND TmcpStatus = 'completed' AND TmcpUserIds = '${alice.userId}'`),
    (found) => found.length === 1,
  );
  expect(completed).toEqual([`p2p-${id}`]);
  expect(await ids(`WorkflowType = 'p2pSaga' AND TmcpClientId = 'tween_client'`)).toEqual([]);

  const grant = await api.call('POST', '/api/v1/oauth2/device/authorization', {
    raw: new URLSearchParams({ client_id: 'ma_demo', scope: 'user:read' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(grant.status).toBe(200);
  const [deviceWorkflow] = await eventually(() => ids(`WorkflowType = 'deviceGrant' AND TmcpClientId = 'ma_demo'`), (found) => found.length === 1);
  const described = await api.temporal.client.workflow.getHandle(deviceWorkflow!).describe();
  expect(await described.staticSummary()).toMatch(/^Device grant dgr_\w+ of ma_demo for user:read$/);
});
