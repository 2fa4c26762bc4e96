/** PROTO 5.6: the state event that documents a mini-app's access withdrawn, keyed by the mini-app. */
export const AUTHORIZATION_STATE_TYPE = 'm.room.tween.authorization';

/** Why access ended (PROTO 5.6's `reason`). */
export type RevocationReason = 'user_initiated';

export interface AuthorizationRevoked {
  /** Unique per revocation: the workflow's id and the event's, retried. */
  revocationId: string;
  userId: string;
  clientId: string;
  /** Unix seconds. */
  revokedAt: number;
  scopes: string[];
  reason: RevocationReason;
}

export const authorizationWorkflowId = (revocationId: string) => `authorization-${revocationId}`;

/** PROTO 5.6's content; Matrix scopes are MAS's to revoke (this server holds none). */
export function revokedAuthorizationContent(r: AuthorizationRevoked): Record<string, unknown> {
  return { authorized: false, revoked_at: r.revokedAt, revoked_scopes: r.scopes, reason: r.reason, tmcp_scopes: r.scopes, matrix_scopes: [] };
}
