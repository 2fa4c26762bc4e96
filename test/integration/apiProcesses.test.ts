import { readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { ADMIN_TOKEN } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { eventually } from '../helpers/eventually';
import { testKeys } from '../helpers/keys';
import { startApiProcess } from '../helpers/serverProcess';
import { uniqueTaskQueue } from '../helpers/worker';
import { freePort } from '../setup/globalSetup';

/** API_PROCESSES: one port served by several processes of src/api.ts under Node's cluster module. */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.close();
});

/** Live child processes of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // The API's own processes: not a helper a loader may start beside them (esbuild's service).
      if (Number(fields[1]) === pid && fields[0] !== 'Z' && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('src/api.ts')) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children.sort();
}

test('API_PROCESSES=2 serves one port from two processes, replaces one that dies, and stops them all', async () => {
  const port = await freePort();
  const proc = startApiProcess(port, {
    DATABASE_URL: db.url,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('cluster'),
    TEP_KEYS_FILE: (await testKeys()).file,
    ADMIN_TOKEN,
    API_PROCESSES: '2',
  });
  try {
    const listening = () => proc.output().split('API listening').length - 1;
    expect(await eventually(async () => listening(), (n) => n === 2, 30_000)).toBe(2);
    // A new connection per call (a kept-alive one to the process killed below would be reset), with a deadline.
    const health = () =>
      new Promise<number>((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 5000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
        req.on('error', reject);
      });
    const first = childrenOf(proc.child.pid!);
    expect(first).toHaveLength(2);
    const answers = await Promise.all(Array.from({ length: 20 }, () => health()));
    expect(answers).toEqual(Array(20).fill(200));
    // Whichever process a scrape reaches answers for both: the 20 calls spread over them are all counted.
    for (let scrape = 0; scrape < 3; scrape += 1) {
      const page = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } })).text();
      const line = page.split('\n').find((l) => l.startsWith('tmcp_http_requests_total{') && l.includes('route="/health"'));
      expect(Number(line?.split(' ').pop())).toBe(20);
    }

    process.kill(first[0]!, 'SIGKILL');
    const replaced = await eventually(async () => childrenOf(proc.child.pid!), (pids) => pids.length === 2 && !pids.includes(first[0]!), 30_000);
    expect(replaced).toHaveLength(2);
    expect(replaced).toContain(first[1]);
    expect(proc.output()).toContain('API process exited; starting another');
    expect(await health()).toBe(200);
    expect(await eventually(async () => listening(), (n) => n === 3, 30_000)).toBe(3);

    await proc.stop();
    expect(proc.child.exitCode).toBe(0);
    const alive = () => replaced.filter((pid) => readdirSync('/proc').includes(String(pid)));
    expect(await eventually(async () => alive(), (pids) => pids.length === 0, 10_000)).toEqual([]);
  } finally {
    await proc.kill();
  }
});
