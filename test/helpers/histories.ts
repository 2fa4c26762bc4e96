import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/** Recorded workflow histories that the replay tests run the current workflow code against. */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'workflows', 'histories');

/**
 * With RECORD_HISTORIES=1 (`npm run record-histories`), saves a finished workflow's history for the
 * replay tests. Record again when a workflow changes on purpose, and keep the old files while
 * workflows started by the old code may still be running.
 */
export async function recordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const handle = client.workflow.getHandle(workflowId);
  await handle.result().catch(() => undefined); // a failed workflow is recorded too
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}
