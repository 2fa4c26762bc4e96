/**
 * The Device Authorization Grant (RFC 8628) as the `device-<id>` workflow sees it: its input, the
 * answers to a poll, and the user code's format. Shared by the workflow, its activities and the API.
 */

/** RFC 8628 6.1: consonants only, so no code spells a word and none is mistaken for another. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
/** RFC 8628 3.5: each slow_down adds this to the interval for the rest of the grant. */
export const SLOW_DOWN_STEP_MS = 5_000;

export interface DeviceGrantInput {
  grantId: string;
  clientId: string;
  scopes: string[];
  /** Milliseconds from the workflow's start until the codes expire. */
  expiresInMs: number;
  /** The minimum time between two polls. */
  intervalMs: number;
}

export interface DeviceDecision {
  userId: string;
  decision: 'approve' | 'deny';
}

/** What the user's approval gave: the wallet the tokens name. */
export interface DeviceApproval {
  userId: string;
  walletId: string;
}

/** One poll's answer: an RFC 8628 3.5 error code, or the approval the tokens are minted from (once). */
export type PollAnswer =
  | { outcome: 'authorization_pending' | 'access_denied' | 'expired_token' | 'invalid_grant' }
  | { outcome: 'slow_down'; intervalMs: number }
  | { outcome: 'approved'; approval: DeviceApproval; scopes: string[] };

/** How a grant ended: the workflow's result, which answers polls once it has closed. */
export type DeviceOutcome = 'redeemed' | 'denied' | 'expired';

export const deviceWorkflowId = (grantId: string) => `device-${grantId}`;
/** The grant of a `device-<id>` workflow. */
export const grantIdOf = (workflowId: string) => workflowId.replace(/^device-/, '');

/** `XXXX-XXXX` as shown to the user. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The stored form of what a user typed: case, dashes and spaces do not matter. Undefined when it cannot be a code. */
export function normalizeUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}
