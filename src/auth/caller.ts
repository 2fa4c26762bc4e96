/**
 * Who calls through a TEP: the user, and the mini-app the token was issued to (`firstParty`: the
 * user's own messenger). Ownership rules read both: a payment is acted on through the mini-app
 * that requested it, a transfer confirmed through the one that initiated it.
 */
export interface Caller {
  userId: string;
  clientId: string;
  firstParty: boolean;
}

/** Whether `caller` may act on what `ownerClientId` made: through that app, or the user's own messenger. Rows from before the app was recorded (null) are open to any. */
export function actsThrough(caller: Caller, ownerClientId: string | null): boolean {
  return ownerClientId === null || caller.clientId === ownerClientId || caller.firstParty;
}
