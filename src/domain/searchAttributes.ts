import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so operators can filter sagas in the Temporal Web UI
 * (e.g. `TmcpUserIds = "@alice:example.org"`). The dev server registers them at start;
 * a production cluster needs `temporal operator search-attribute create` once (see README).
 * Kept in src/domain because workflows upsert them.
 */
export const TMCP_STATUS = defineSearchAttributeKey('TmcpStatus', SearchAttributeType.KEYWORD);
export const TMCP_USER_IDS = defineSearchAttributeKey('TmcpUserIds', SearchAttributeType.KEYWORD_LIST);
export const TMCP_ROOM_ID = defineSearchAttributeKey('TmcpRoomId', SearchAttributeType.KEYWORD);
/** The mini-app a saga is for (the payment's merchant, the app a transfer came through), so an operator filters one app's sagas. */
export const TMCP_CLIENT_ID = defineSearchAttributeKey('TmcpClientId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [TMCP_STATUS, TMCP_USER_IDS, TMCP_ROOM_ID, TMCP_CLIENT_ID];

/** The TmcpClientId of a start, when the saga has a mini-app (none: the user's messenger or the system). */
export function clientAttribute(clientId: string | null | undefined) {
  return clientId ? [{ key: TMCP_CLIENT_ID, value: clientId }] : [];
}
