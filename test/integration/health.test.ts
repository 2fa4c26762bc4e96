import { createDatabasePool } from '../../src/db/pool';
import { READY_CACHE_MS } from '../../src/http/routes/system';
import { startTestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { hostPort, startTcpProxy } from '../helpers/tcpProxy';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

test('GET /ready reports PostgreSQL and Temporal reachable, and /health says the process serves', async () => {
  const api = await startTestApi(db);
  try {
    const ready = await api.call('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', postgres: { reachable: true }, temporal: { reachable: true } });
    expect(ready.headers.get('cache-control')).toBe('no-store');
    const health = await api.call('GET', '/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
  } finally {
    await api.close();
  }
});

test('with Temporal down, /ready answers 503 naming it, and /health still answers 200', async () => {
  const api = await startTestApi(db, { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  try {
    const ready = await api.call('GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', postgres: { reachable: true }, temporal: { reachable: false } });
    expect((await api.call('GET', '/health')).status).toBe(200);
  } finally {
    await api.close();
  }
});

test('/health touches no dependency, and /ready checks them at most once per READY_CACHE_MS', async () => {
  const proxy = await startTcpProxy(hostPort(db.url));
  const url = new URL(db.url);
  url.host = proxy.address;
  const pool = await createDatabasePool(url.toString(), { maximumPoolSize: 2 });
  const api = await startTestApi({ ...db, url: url.toString(), pool });
  try {
    const first = await api.call('GET', '/ready');
    expect(first.body.postgres.reachable).toBe(true);
    // Within the cache window every caller gets the same check, even with PostgreSQL gone.
    proxy.down();
    const cached = await Promise.all([api.call('GET', '/ready'), api.call('GET', '/ready')]);
    for (const res of cached) expect(res.body).toMatchObject({ status: 'ok', checked_at: first.body.checked_at });
    expect((await api.call('GET', '/health')).status).toBe(200);

    await new Promise((r) => setTimeout(r, READY_CACHE_MS + 100));
    const fresh = await api.call('GET', '/ready');
    expect(fresh.status).toBe(503);
    expect(fresh.body).toMatchObject({ status: 'unavailable', postgres: { reachable: false }, temporal: { reachable: true } });
    expect(fresh.body.checked_at).not.toBe(first.body.checked_at);
  } finally {
    await api.close();
    await pool.end();
    await proxy.close();
  }
});
