import { startTestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

test('GET /health reports PostgreSQL and Temporal reachable', async () => {
  const api = await startTestApi(db);
  try {
    const res = await api.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', postgres: { reachable: true }, temporal: { reachable: true } });
  } finally {
    await api.close();
  }
});

test('GET /health still answers 200 when Temporal is down, and says so', async () => {
  const api = await startTestApi(db, { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  try {
    const res = await api.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'degraded', postgres: { reachable: true }, temporal: { reachable: false } });
  } finally {
    await api.close();
  }
});
