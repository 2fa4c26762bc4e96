export const MINIAPP_STATUSES = ['active', 'suspended', 'deleted'] as const;
/** What an operator may set by a change: deletion is its own call (DELETE), and final. */
export const SETTABLE_MINIAPP_STATUSES = ['active', 'suspended'] as const;
export const CLIENT_TYPES = ['public', 'confidential', 'hybrid'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

/** Mini-app client ids: `ma_` and 1 to 64 lowercase letters, digits or `_` (also the localpart of the mini-app's bot). */
export const MINIAPP_CLIENT_ID = /^ma_[a-z0-9_]{1,64}$/;

export function isMiniappClientId(value: string): boolean {
  return MINIAPP_CLIENT_ID.test(value);
}

/** A first-party client (the user's own messenger) is not a mini-app and has no bot: any lowercase name. */
export const FIRST_PARTY_CLIENT_ID = /^[a-z][a-z0-9_]{2,64}$/;
