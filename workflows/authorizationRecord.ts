import { ActivityFailure } from '@temporalio/workflow';
import type { AuthorizationRevoked } from '../src/domain/authorizationEvents';
import { domainFailure, roomEvents } from './common';

const { recordRevocation } = roomEvents();

/**
 * PROTO 5.6, step 3: a mini-app's access withdrawn is documented in Matrix as the
 * `m.room.tween.authorization` state (keyed by the mini-app) of the user's direct room with the
 * payments bot, with the room events' retries. The API starts it after the revocation commits.
 */
export async function authorizationRecord(input: AuthorizationRevoked): Promise<{ eventId?: string; skipped?: string }> {
  try {
    return await recordRevocation(input);
  } catch (err) {
    // Refused for good by the homeserver, or given up after a week of retries: said in the result, not a failed workflow.
    const failure = domainFailure(err);
    if (!failure && !(err instanceof ActivityFailure)) throw err;
    return { skipped: failure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' };
  }
}
