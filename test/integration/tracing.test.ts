import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_TOKEN, apiClient } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { testKeys } from '../helpers/keys';
import { confirm, initiate, walletUser } from '../helpers/p2p';
import { startApiProcess, startWorkerProcess, type ServerProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';

/**
 * One trace from the HTTP request to the ledger: the API and worker processes with tracing on (the
 * standard OTEL_* variables) export to an in-memory OTLP receiver here; the spans of one P2P
 * confirm (the API's request, the workflow, the settlement activity and its PostgreSQL queries)
 * share one trace id, and the workflow's and the activity's log lines carry it with the workflow id.
 */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

let db: TestDatabase;
let receiver: Server;
const spans: ReceivedSpan[] = [];
const procs: ServerProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const payload = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: Omit<ReceivedSpan, 'service'>[] }[] }[];
      };
      for (const rs of payload.resourceSpans ?? []) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ service, name: s.name, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await db?.close();
});

test('one P2P confirm is one trace: the API request, the workflow, the settlement activity and its queries', async () => {
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  const taskQueue = uniqueTaskQueue('tracing');
  const { file, keys } = await testKeys();
  const port = await freePort();
  // No prebuilt bundle: the worker bundles its workflows at start, with the tracing interceptor since tracing is on.
  const worker = startWorkerProcess({ DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: '', ...otel });
  const api = startApiProcess(port, { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue, TEP_KEYS_FILE: file, ADMIN_TOKEN, ...otel });
  procs.push(worker, api);
  await Promise.all([worker.ready, api.ready]);
  const client = apiClient(`http://127.0.0.1:${port}`, keys, `http://127.0.0.1:${port}`);

  const alice = await walletUser(client, { name: 'alice', fund: '10.00' });
  const bob = await walletUser(client, { name: 'bob' });
  const id = (await initiate(client, alice, { recipient: bob.userId, amount: '3.00', room_id: '!trace:tmcp.test' })).body.transfer_id as string;
  expect((await confirm(client, alice, id)).body.status).toBe('completed');

  const request = await eventually(
    async () => spans.find((s) => s.service === 'tmcp-api' && s.name === 'POST /api/v1/wallet/p2p/:transfer_id/confirm'),
    (s) => s !== undefined,
  );
  const trace = () => spans.filter((s) => s.traceId === request!.traceId);
  const all = await eventually(
    async () => trace(),
    (t) => t.some((s) => s.service === 'tmcp-worker' && s.name.includes('proveAndSettleP2P')) && t.some((s) => s.service === 'tmcp-worker' && s.name.includes('p2pSaga')),
  );
  const names = all.map((s) => `${s.service} ${s.name}`);
  expect(names).toEqual(
    expect.arrayContaining(['tmcp-api UpdateWithStartWorkflow:confirm', 'tmcp-worker RunWorkflow:p2pSaga', 'tmcp-worker HandleUpdate:confirm', 'tmcp-worker RunActivity:proveAndSettleP2P']),
  );
  // The settlement's PostgreSQL work, in the worker, in the same trace.
  expect(all.some((s) => s.service === 'tmcp-worker' && /^pg/.test(s.name))).toBe(true);
  // And its log lines carry the trace and the workflow.
  const traced = worker.output().split('\n').filter((l) => l.includes(request!.traceId));
  expect(traced.some((l) => l.includes(`"workflow_id":"p2p-${id}"`))).toBe(true);
  // The workflow's own line too ("saga ended"): one grep for the trace id finds the request, the workflow and the activity.
  expect(traced.some((l) => l.includes('"sdkComponent":"workflow"') && l.includes(`"workflowId":"p2p-${id}"`))).toBe(true);
}, 120_000);
