/** Accepting an invite of one of our bots: a saga of its own so a failing join never holds up Synapse's transactions. */
export interface InviteInput {
  roomId: string;
  botUserId: string;
  inviter: string;
  inviteEventId: string;
}

export interface InviteResult {
  joined: boolean;
  /** Why the homeserver refused the join, when it did. */
  error?: string;
}

export function inviteWorkflowId(inviteEventId: string): string {
  return `invite-${inviteEventId}`;
}
