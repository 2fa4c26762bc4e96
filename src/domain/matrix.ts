/** Accepting an invite of one of our bots: a saga of its own, so a join that needs retries never holds up Synapse's transactions. */
export interface InviteInput {
  roomId: string;
  botUserId: string;
  inviter: string;
  inviteEventId: string;
}

export interface InviteResult {
  joined: true;
  /** Whether the room's member list could be read after joining (it is read again when needed). */
  membersRead: boolean;
}

export function inviteWorkflowId(inviteEventId: string): string {
  return `invite-${inviteEventId}`;
}
