import { ActivityFailure, workflowInfo } from '@temporalio/workflow';
import type { MiniappAnnouncement } from '../src/domain/miniappEvents';
import { domainFailure, roomEvents } from './common';

const { announceToAppRooms } = roomEvents();

/**
 * PROTO 8.1.4: the updater bot tells the rooms a mini-app is in that it was updated or removed,
 * with the room events' retries. One per app and version (or deletion): the workflow id is theirs.
 */
export async function miniappAnnouncement(input: MiniappAnnouncement): Promise<{ sent: number; skipped: number } | { gaveUp: string }> {
  try {
    return await announceToAppRooms({ ...input, announcementId: workflowInfo().workflowId });
  } catch (err) {
    const failure = domainFailure(err);
    if (!failure && !(err instanceof ActivityFailure)) throw err;
    return { gaveUp: failure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' };
  }
}
