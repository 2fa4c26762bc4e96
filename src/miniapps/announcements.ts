import type { Config } from '../config';
import { markVersionAnnounced, miniappRecord } from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import { MINIAPP_UNINSTALLED_EVENT_TYPE, MINIAPP_UPDATED_EVENT_TYPE, miniappAnnouncementWorkflowId, uninstalledContent, updatedContent, type MiniappAnnouncement } from '../domain/miniappEvents';
import type { Logger } from '../logger';
import { startIdempotently, type Temporal } from '../temporal/client';
import type { miniappAnnouncement } from '../../workflows/miniappAnnouncement';

export interface AnnouncementDeps {
  pool: DatabasePool;
  temporal: Temporal;
  log: Logger;
  config: Pick<Config, 'matrix'>;
}

async function start(deps: AnnouncementDeps, what: string, input: MiniappAnnouncement): Promise<boolean> {
  if (!deps.config.matrix) return true; // no homeserver, no rooms to tell
  return startIdempotently<typeof miniappAnnouncement>(
    deps.temporal,
    deps.log,
    'miniappAnnouncement',
    { workflowId: miniappAnnouncementWorkflowId(input.clientId, what), args: [input], staticSummary: `${input.type} for ${input.clientId} (${what})` },
    { client_id: input.clientId },
  );
}

/**
 * When an approved app's version changed since its rooms last heard (PROTO 8.1.4), the updater bot
 * tells them (`m.tween.miniapp.updated`). An app's first approval is its first version: nothing to
 * tell. The workflow starts before the version is marked told, so a failed start is tried again at
 * the app's next change; its id (app and version) makes a repeat the same announcement.
 */
export async function announceVersionChange(deps: AnnouncementDeps, clientId: string): Promise<void> {
  const app = await miniappRecord(deps.pool, clientId);
  if (!app || app.status !== 'active' || app.announced_version === app.version) return;
  if (app.announced_version !== null) {
    const content = updatedContent(clientId, app.name, app.announced_version, app.version, new Date().toISOString());
    if (!(await start(deps, `v${app.version}`, { clientId, type: MINIAPP_UPDATED_EVENT_TYPE, content }))) return;
  }
  await markVersionAnnounced(deps.pool, clientId, app.announced_version, app.version);
}

/** A deleted app's rooms hear of it from the updater bot (`m.tween.miniapp.uninstalled`), once. */
export async function announceRemoval(deps: AnnouncementDeps, clientId: string, by: 'developer' | 'operator'): Promise<void> {
  await start(deps, 'deleted', { clientId, type: MINIAPP_UNINSTALLED_EVENT_TYPE, content: uninstalledContent(clientId, by, new Date().toISOString()) });
}
