import { ActivityFailure, ApplicationFailure, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { LOCAL_STEPS, roomEvents } from './common';

const { recordWalletCallbackEvent } = proxyLocalActivities<Activities>(LOCAL_STEPS);
const { sendMatrixEvent } = roomEvents();

/**
 * The room event of a payment a wallet provider reported (PROTO 4.11.7), from the payments bot,
 * with the room events' retries; one per provider and transaction (the API claims it first, and
 * the pair names the workflow and the event's txnId). Answers the event id.
 */
export async function walletCallbackEvent(input: { provider?: string; transactionId: string; roomId: string; type: string; content: Record<string, unknown> }): Promise<string | undefined> {
  const which = { provider: input.provider, transactionId: input.transactionId };
  try {
    const sent = await sendMatrixEvent({ roomId: input.roomId, type: input.type, content: input.content, txnId: `wallet-event.${input.provider ?? ''}.${input.transactionId}` });
    await recordWalletCallbackEvent({ ...which, eventId: sent.eventId, error: sent.eventId ? undefined : 'skipped: Matrix is off' });
    return sent.eventId;
  } catch (err) {
    const failure = err instanceof ActivityFailure ? err.cause : err;
    if (!(failure instanceof ApplicationFailure) && !(err instanceof ActivityFailure)) throw err;
    await recordWalletCallbackEvent({ ...which, error: failure instanceof ApplicationFailure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' });
    return undefined;
  }
}
