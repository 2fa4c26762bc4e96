import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/** Recorded workflow histories that the replay tests run the current workflow code against. */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'workflows', 'histories');

/**
 * The version of each saga's commands as the code issues them today. Raise it (with a new
 * `patched()` id in the workflow) whenever a change alters the commands a workflow issues; the
 * recorded files of every earlier version stay (see test/workflows/histories/README.md).
 */
export const HISTORY_VERSIONS = { p2p: 'v6', invite: 'v2', device: 'v1', webhook: 'v4', payment: 'v3', refund: 'v1', walletEvent: 'v1', gift: 'v3', topup: 'v3', withdrawal: 'v4', authorization: 'v1', walletInvite: 'v1', miniappAnnouncement: 'v1' } as const;

/**
 * With RECORD_HISTORIES=1 (`npm run record-histories`), saves a finished workflow's history as
 * `<saga>-<version>-<scenario>.json` for the replay tests; RECORD_HISTORIES=p2p,gift records only
 * those sagas (the one whose version was raised). A recorded file is never overwritten:
 * recording a scenario that exists for this version fails, so a changed workflow needs a new version.
 */
export async function recordHistory(client: Client, workflowId: string, saga: keyof typeof HISTORY_VERSIONS, scenario: string): Promise<void> {
  const wanted = process.env.RECORD_HISTORIES;
  if (!wanted || (wanted !== '1' && !wanted.split(',').includes(saga))) return;
  const handle = client.workflow.getHandle(workflowId);
  await handle.result().catch(() => undefined); // a failed workflow is recorded too
  await mkdir(HISTORIES_DIR, { recursive: true });
  const file = path.join(HISTORIES_DIR, `${saga}-${HISTORY_VERSIONS[saga]}-${scenario}.json`);
  await writeFile(file, historyToJSON(await handle.fetchHistory()), { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
    throw new Error(`${file} exists: recorded histories are never overwritten; record under a new version (HISTORY_VERSIONS)`);
  });
}
