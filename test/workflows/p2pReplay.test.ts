import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/histories';
import { testEnv } from '../setup/env';

/**
 * Replays recorded P2P histories (every ending: completed, held then accepted, rejected, expired,
 * cancelled, auth_failed, refused event) against the current workflow code. A change that would
 * break running sagas fails here with a nondeterminism error. `p2p-v1-*` were recorded before the
 * ledger steps became local activities (patch `p2p-v2-local-ledger-write-first`).
 */
test('the P2P workflow replays every recorded history without nondeterminism', async () => {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => f.startsWith('p2p-') && f.endsWith('.json')).sort();
  expect(files.filter((f) => f.startsWith('p2p-v1-'))).toHaveLength(8);
  expect(files.length).toBeGreaterThanOrEqual(18);
  const histories = await Promise.all(
    files.map(async (file) => ({
      workflowId: path.basename(file, '.json'),
      history: historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8'))),
    })),
  );
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: testEnv('workflowBundle') } }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});
