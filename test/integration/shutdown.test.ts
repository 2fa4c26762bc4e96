import { ADMIN_TOKEN } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { testKeys } from '../helpers/keys';
import { startApiProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';

/** A stopping API process drains: it keeps serving with /ready at 503 for SHUTDOWN_DRAIN_SECONDS, then exits cleanly. */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

test('after SIGTERM /ready answers 503 draining while /health and the API still answer, then the process exits 0', async () => {
  const port = await freePort();
  const proc = startApiProcess(port, { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('drain'), TEP_KEYS_FILE: (await testKeys()).file, ADMIN_TOKEN, SHUTDOWN_DRAIN_SECONDS: '2' });
  try {
    await proc.ready;
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
    const stoppedAt = Date.now();
    proc.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ready = await fetch(`${url}/ready`, { headers: { connection: 'close' } });
    expect([ready.status, await ready.json()]).toEqual([503, { status: 'draining' }]);
    expect((await fetch(`${url}/health`, { headers: { connection: 'close' } })).status).toBe(200);
    expect(await exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1900);
    expect(proc.output()).toContain('draining: /ready answers 503');
  } finally {
    await proc.kill();
  }
});
