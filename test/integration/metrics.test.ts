import { freePort, startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { confirm, initiate, walletUser } from '../helpers/p2p';
import { startWorkerProcess, type ServerProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';

/**
 * Prometheus on both sides after one P2P transfer: the API's GET /metrics counts the requests by
 * route template; the worker's metrics port counts the saga's start and outcome, its activities
 * and ledger entry, passes on the Temporal SDK's own metrics, and answers /health.
 */
let db: TestDatabase;
let api: TestApi;
let worker: ServerProcess;
let metricsPort: number;

beforeAll(async () => {
  db = await freshDatabase();
  const taskQueue = uniqueTaskQueue('metrics');
  metricsPort = await freePort();
  worker = startWorkerProcess({ DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue, WORKER_METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
  await worker.ready;
}, 120_000);
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await db?.close();
});

/** The value of one sample, `name{labels}`, in a Prometheus text page (0 when absent). */
function sample(page: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of page.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((w) => inner.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

test('a P2P transfer is counted by the API and by the worker, beside the Temporal SDK metrics', async () => {
  const alice = await walletUser(api, { name: 'alice', fund: '20.00' });
  const bob = await walletUser(api, { name: 'bob' });
  const id = (await initiate(api, alice, { recipient: bob.userId, amount: '5.00' })).body.transfer_id;
  expect((await confirm(api, alice, id)).body.status).toBe('completed');

  const apiPage = (await api.call('GET', '/metrics')).body as string;
  expect(sample(apiPage, 'tmcp_http_requests_total', { method: 'POST', route: '/api/v1/wallet/p2p/:transfer_id/confirm', status: '200' })).toBeGreaterThanOrEqual(1);
  expect(sample(apiPage, 'tmcp_http_request_duration_seconds_count', { route: '/api/v1/wallet/p2p/initiate', status: '201' })).toBeGreaterThanOrEqual(1);
  // Operator funding is posted by the API process itself.
  expect(sample(apiPage, 'tmcp_ledger_entries_total', { kind: 'funding', currency: 'USD' })).toBeGreaterThanOrEqual(1);
  // No id ever becomes a label.
  expect(apiPage).not.toContain(id);

  const read = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
  const page = await eventually(read, (p) => sample(p, 'tmcp_saga_outcomes_total', { workflow: 'p2pSaga', status: 'completed' }) === 1);
  expect(sample(page, 'tmcp_saga_starts_total', { workflow: 'p2pSaga' })).toBe(1);
  expect(sample(page, 'tmcp_ledger_entries_total', { kind: 'p2p_transfer', currency: 'USD' })).toBe(1);
  expect(sample(page, 'tmcp_ledger_amount_minor_total', { kind: 'p2p_transfer', currency: 'USD' })).toBe(500);
  expect(sample(page, 'tmcp_activities_total', { activity: 'proveAndSettleP2P', result: 'ok' })).toBe(1);
  // The Temporal SDK's own metrics, on the same page.
  expect(page).toMatch(/^temporal_\w+/m);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status).toBe(200);
});
