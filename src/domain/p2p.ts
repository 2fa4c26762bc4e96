import type { Currency } from './money';

/** P2P transfer states (PROTO 7.2.7). */
export const P2P_STATES = [
  'pending_authorization',
  'pending_recipient_acceptance',
  'completed',
  'rejected',
  'expired',
  'cancelled',
  'auth_failed',
] as const;
export type P2PState = (typeof P2P_STATES)[number];

export const P2P_TERMINAL_STATES: readonly P2PState[] = ['completed', 'rejected', 'expired', 'cancelled', 'auth_failed'];

export const AUTH_METHODS = ['biometric', 'pin', 'otp'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** PROTO 7.2.4 `auth_proof`. */
export type AuthProof =
  | { method: 'biometric'; proof: { signature: string; device_id: string; timestamp: string } }
  | { method: 'pin'; proof: { hashed_pin: string; device_id?: string } }
  | { method: 'otp'; proof: { otp_code: string; timestamp?: string } };

export interface P2PParty {
  userId: string;
  walletId: string;
}

/** Everything the saga needs, fixed when the transfer is initiated. Amounts are minor units as strings (JSON has no bigint). */
export interface P2PInput {
  transferId: string;
  sender: P2PParty;
  recipient: P2PParty;
  amountMinor: string;
  currency: Currency;
  note?: string;
  roomId?: string;
  recipientAcceptanceRequired: boolean;
  createdAt: string;
  /** What is left of the authorization window when the saga starts (0: over). */
  authorizationWindowMs: number;
  acceptanceWindowMs: number;
  /** How long confirm waits for the Matrix event before answering without its event_id. */
  eventWaitMs: number;
  /** Failed proofs after which the transfer ends as auth_failed. */
  maxAuthAttempts: number;
}

/**
 * An auth_proof on its way through the saga: the method in clear, the proof itself sealed with the
 * data key (it holds a PIN digest or a one-time code, and Temporal keeps update arguments).
 */
export interface SealedProof {
  method: AuthMethod;
  sealed: string;
}

export interface ConfirmRequest {
  userId: string;
  authProof: SealedProof;
}

export interface PartyRequest {
  userId: string;
}

export interface RejectRequest extends PartyRequest {
  reason?: string;
  message?: string;
}

/** What the workflow reports about itself (query `state`, and the update answers). */
export interface P2PSnapshot {
  transferId: string;
  status: P2PState;
  authAttempts: number;
  eventId?: string;
  statusEventId?: string;
  eventError?: string;
  statusEventError?: string;
  confirmedAt?: string;
  acceptanceExpiresAt?: string;
  completedAt?: string;
  rejectedAt?: string;
}

/** `${transfer_id}:${amount}:${currency}:${timestamp}`: what a device signs for a biometric proof (PROTO 7.2.4). */
export function biometricMessage(transferId: string, amount: string, currency: string, timestamp: string): string {
  return `${transferId}:${amount}:${currency}:${timestamp}`;
}

/**
 * What a device signs to prove a change of the user's payment factors: `factor:<action>:<user_id>:<timestamp>`,
 * where action is `pin`, `totp` or `device:<device_id>` (the device being registered).
 */
export function factorChangeMessage(action: string, userId: string, timestamp: string): string {
  return `factor:${action}:${userId}:${timestamp}`;
}

export function p2pWorkflowId(transferId: string): string {
  return `p2p-${transferId}`;
}

export type P2PAction = 'confirm' | 'accept' | 'reject' | 'cancel';

/** Who may call each action, and in which state (PROTO 7.2.4, 7.2.7). */
const ACTION_RULES: Record<P2PAction, { party: 'sender' | 'recipient'; state: P2PState }> = {
  confirm: { party: 'sender', state: 'pending_authorization' },
  cancel: { party: 'sender', state: 'pending_authorization' },
  accept: { party: 'recipient', state: 'pending_recipient_acceptance' },
  reject: { party: 'recipient', state: 'pending_recipient_acceptance' },
};

export interface ActionRefusal {
  code: 'INSUFFICIENT_PERMISSIONS' | 'TRANSFER_EXPIRED' | 'INVALID_STATE';
  message: string;
  details: Record<string, unknown>;
}

/**
 * Why `userId` may not take `action` on a transfer now, or undefined when they may. The workflow's
 * update validators and the API (for transfers whose saga has finished) share this one rule.
 */
export function refuseAction(
  action: P2PAction,
  transfer: { transferId: string; status: P2PState; senderUserId: string; recipientUserId: string },
  userId: string,
): ActionRefusal | undefined {
  const rule = ACTION_RULES[action];
  const party = rule.party === 'sender' ? transfer.senderUserId : transfer.recipientUserId;
  if (userId !== party) {
    return { code: 'INSUFFICIENT_PERMISSIONS', message: `Only the ${rule.party} can ${action} this transfer`, details: { transfer_id: transfer.transferId } };
  }
  if (transfer.status === rule.state) return undefined;
  if (transfer.status === 'expired') {
    return { code: 'TRANSFER_EXPIRED', message: 'The transfer expired', details: { transfer_id: transfer.transferId, status: transfer.status } };
  }
  return {
    code: 'INVALID_STATE',
    message: `Cannot ${action} a transfer in state ${transfer.status}`,
    details: { transfer_id: transfer.transferId, status: transfer.status },
  };
}
