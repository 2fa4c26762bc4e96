import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/histories';
import { testEnv } from '../setup/env';

/**
 * Replays every recorded history in the folder (`npm run record-histories`), of every saga and
 * every version, against the current workflow code. A change that would break running sagas, or a
 * patch id reused for other commands, fails here with a nondeterminism error. The files are listed
 * by version in test/workflows/histories/README.md; CI refuses a change that edits or deletes one
 * (scripts/check-histories.sh).
 */
test('every recorded history replays without nondeterminism', async () => {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();
  const recorded = await Promise.all(
    files.map(async (file) => ({
      workflowId: path.basename(file, '.json'),
      history: historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8'))),
    })),
  );
  // P2P v1 (8), v3 (6), v4 (10) of p2pTransfer, v5 (12) and v6 (12) of p2pSaga, the invite saga (2), the device grant (3),
  // webhook delivery v1 (2), v2 (2), v3 (1) and v4 (3), the authorization record (1), the wallet invitation (1), the mini-app announcement (1), payments v1 (5), v2 (1) and v3 (7), refund announcements (1), wallet-provider events (1), gifts v1-v2 (2 each) and v3 (3), top-ups (3), withdrawals v1-v3 (3 each) and v4 (5).
  expect(recorded.length).toBeGreaterThanOrEqual(108);
  for (const prefix of ['p2p-v1-', 'p2p-v3-', 'p2p-v5-', 'p2p-v6-', 'invite-', 'device-v1-', 'webhook-v1-', 'webhook-v2-', 'webhook-v3-', 'webhook-v4-', 'payment-v1-', 'payment-v2-', 'payment-v3-', 'refund-v1-', 'walletEvent-v1-', 'gift-v1-', 'gift-v2-', 'gift-v3-', 'topup-v1-', 'topup-v2-', 'topup-v3-', 'withdrawal-v1-', 'withdrawal-v2-', 'withdrawal-v3-', 'withdrawal-v4-', 'authorization-v1-', 'walletInvite-v1-', 'miniappAnnouncement-v1-']) expect(recorded.some((h) => h.workflowId.startsWith(prefix))).toBe(true);

  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: testEnv('workflowBundle') } }, recorded)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});
