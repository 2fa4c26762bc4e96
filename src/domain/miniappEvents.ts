/**
 * PROTO 8.1.4's app lifecycle events the server sends, from the updater bot into the rooms the
 * app's bot is in (its audience): `m.tween.miniapp.updated` when an approved app's version changes,
 * `m.tween.miniapp.uninstalled` when the app is deleted. (`.installed` is the user's own event:
 * PROTO's sender is the user.) Pure data, shared by the API, the workflow and its activity.
 */
export const MINIAPP_UPDATED_EVENT_TYPE = 'm.tween.miniapp.updated';
export const MINIAPP_UNINSTALLED_EVENT_TYPE = 'm.tween.miniapp.uninstalled';

export interface MiniappAnnouncement {
  clientId: string;
  type: typeof MINIAPP_UPDATED_EVENT_TYPE | typeof MINIAPP_UNINSTALLED_EVENT_TYPE;
  content: Record<string, unknown>;
}

export const miniappAnnouncementWorkflowId = (clientId: string, what: string) => `miniapp-${clientId}-${what}`;

const SEMVER = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})$/;

export function isVersion(value: string): boolean {
  return SEMVER.test(value);
}

/** Which part of the version rose (PROTO's `update_type`); undefined when `next` is not above `previous`. */
export function updateType(previous: string, next: string): 'major' | 'minor' | 'patch' | undefined {
  const [a, b] = [SEMVER.exec(previous), SEMVER.exec(next)];
  if (!a || !b) return undefined;
  for (const [i, kind] of [[1, 'major'], [2, 'minor'], [3, 'patch']] as const) {
    const [p, n] = [Number(a[i]), Number(b[i])];
    if (n > p) return kind;
    if (n < p) return undefined;
  }
  return undefined;
}

export function updatedContent(clientId: string, name: string, previous: string, next: string, at: string) {
  return { miniapp_id: clientId, name, previous_version: previous, new_version: next, update_type: updateType(previous, next) ?? 'patch', updated_at: at };
}

export function uninstalledContent(clientId: string, by: 'developer' | 'operator', at: string) {
  return {
    miniapp_id: clientId,
    uninstalled_at: at,
    reason: by === 'developer' ? 'removed_by_developer' : 'removed_by_operator',
    data_cleanup: { storage_cleared: true, permissions_revoked: true },
  };
}
