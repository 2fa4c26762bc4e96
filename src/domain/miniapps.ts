/**
 * PROTO 9.2-9.3 as kept here: a developer's registration waits in `pending_review`; an operator
 * approves it (`active`, the only status whose tokens work) or rejects it; a rejected or suspended
 * app may `appeal`, which an operator reviews again. `deleted` is final.
 */
export const MINIAPP_STATUSES = ['pending_review', 'active', 'rejected', 'appeal', 'suspended', 'deleted'] as const;
export type MiniappStatus = (typeof MINIAPP_STATUSES)[number];
/** What a developer may appeal from, and what an operator may review. */
export const APPEALABLE_STATUSES: readonly MiniappStatus[] = ['rejected', 'suspended'];
export const REVIEWABLE_STATUSES: readonly MiniappStatus[] = ['pending_review', 'appeal'];
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
