import { loadConfig } from '../../src/config';
import { startProviderSimulator, type ProviderSimulator } from '../../src/dev/providerSimulator';
import { providerRegistry } from '../../src/providers/registry';
import { freePort, startTestApi, type TestApi } from './api';
import { freshDatabase, type TestDatabase } from './db';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from './worker';

/** A database, the provider simulator calling the API back, a worker and the API, configured alike by `env`. */
export interface ProviderStack {
  db: TestDatabase;
  api: TestApi;
  worker: TestWorker;
  sim: ProviderSimulator;
  /** The secret the simulator and the server share (the simulator's operator calls need it). */
  secret: string;
  close(): Promise<void>;
}

export async function startProviderStack(name: string, env: Record<string, string> = {}): Promise<ProviderStack> {
  const secret = `${name}-provider-secret`;
  const db = await freshDatabase();
  const port = await freePort();
  const sim = await startProviderSimulator({ secret, callbackUrl: `http://127.0.0.1:${port}/api/v1/wallet/providers/simulator/callback` });
  const settings = { PROVIDER_SIMULATOR_URL: sim.url, PROVIDER_SIMULATOR_SECRET: secret, ...env };
  const config = loadConfig({ NODE_ENV: 'test', ...settings });
  const taskQueue = uniqueTaskQueue(name);
  const worker = await startTestWorker(db, { taskQueue, providers: providerRegistry(config.providers), payments: config.payments });
  const api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue, ...settings }, { port });
  return {
    db,
    api,
    worker,
    sim,
    secret,
    async close() {
      await api.close();
      await worker.stop();
      await sim.close();
      await db.close();
    },
  };
}
