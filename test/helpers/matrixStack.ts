import { startTestApi, type TestApi } from './api';
import { freshDatabase, type TestDatabase } from './db';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from './stubHomeserver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from './worker';

/** A database, a stub homeserver, a worker and the API configured for it. `workerMatrix: false`: the worker sends no room events. */
export interface MatrixStack {
  db: TestDatabase;
  hs: StubHomeserver;
  worker: TestWorker;
  api: TestApi;
  close(): Promise<void>;
}

export async function startMatrixStack(name: string, options: { workerMatrix?: boolean } = {}): Promise<MatrixStack> {
  const db = await freshDatabase();
  const hs = await startStubHomeserver();
  const env = stubMatrixEnv(hs, name);
  const taskQueue = uniqueTaskQueue(name);
  const matrix = options.workerMatrix === false ? undefined : { homeserverUrl: hs.url, asToken: env.MATRIX_AS_TOKEN!, serverName: 'tmcp.test' };
  const worker = await startTestWorker(db, { taskQueue, ...(matrix ? { matrix } : {}) });
  const api = await startTestApi(db, { ...env, TEMPORAL_TASK_QUEUE: taskQueue });
  return {
    db,
    hs,
    worker,
    api,
    async close() {
      await api.close();
      await worker.stop();
      await hs.close();
      await db.close();
    },
  };
}
