import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/histories';
import { testEnv } from '../setup/env';

/**
 * Replays every recorded history (`npm run record-histories`) against the current workflow code.
 * A change that would break running sagas fails here with a nondeterminism error.
 * - P2P: every ending (completed, held then accepted, rejected, expired, cancelled, auth_failed,
 *   refused event, insufficient funds then completed). `p2p-v1-*` were recorded before the ledger
 *   steps became local activities (patch `p2p-v2-local-ledger-write-first`).
 * - acceptInvite: joined, and refused.
 */
async function histories(prefix: string) {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: path.basename(file, '.json'),
      history: historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8'))),
    })),
  );
}

async function replayFailures(recorded: Awaited<ReturnType<typeof histories>>): Promise<string[]> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: testEnv('workflowBundle') } }, recorded)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}

test('the P2P workflow replays every recorded history without nondeterminism', async () => {
  const recorded = await histories('p2p-');
  expect(recorded.filter((h) => h.workflowId.startsWith('p2p-v1-'))).toHaveLength(8);
  expect(recorded.length).toBeGreaterThanOrEqual(18);
  expect(await replayFailures(recorded)).toEqual([]);
});

test('the acceptInvite workflow replays its recorded histories', async () => {
  const recorded = await histories('invite-');
  expect(recorded.map((h) => h.workflowId)).toEqual(['invite-joined', 'invite-refused']);
  expect(await replayFailures(recorded)).toEqual([]);
});
