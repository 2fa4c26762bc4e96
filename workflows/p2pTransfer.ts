import { ActivityFailure, allHandlersFinished, ApplicationFailure, condition, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RoomEvent } from '../activities/matrix';
import { refuseAction, type P2PAction, type P2PInput, type P2PSnapshot, type P2PState } from '../src/domain/p2p';
import { p2pEventContent, p2pStatusEventContent, P2P_EVENT_TYPE, P2P_STATUS_EVENT_TYPE } from '../src/domain/p2pEvents';
import { TMCP_STATUS } from '../src/domain/searchAttributes';
import { acceptP2P, cancelP2P, confirmP2P, p2pState, rejectP2P } from './p2pMessages';
import { workflowNow } from './clock';
import { domainFailure, exclusive, LOCAL_STEPS, REMOTE_STEPS, roomEvents } from './common';

// The ledger steps: local activities in v2 histories, regular ones in v1 (runP2P picks by the history's shape).
const localSteps = proxyLocalActivities<Activities>(LOCAL_STEPS);
const remoteSteps = proxyActivities<Activities>(REMOTE_STEPS);
const { sendMatrixEvent } = roomEvents();

// Ledger steps run as local activities (confirm answers in one task); sagas started before that
// change (v1) replay with the regular activities they scheduled.
/** v2: ledger steps as local activities, and a state changes only after PostgreSQL has it. */
const P2P_V2 = 'p2p-v2-local-ledger-write-first';
/** p2pSaga v6: the proof and the settlement in one local activity, one workflow activation fewer per confirm. */
const P2P_V6 = 'p2p-v6-proof-and-settlement-in-one-step';

/** Proof failures that count toward the transfer's attempts. */
const PROOF_FAILURES = new Set(['INVALID_SIGNATURE', 'INVALID_MFA_CREDENTIALS', 'MFA_LOCKED']);

function detailsOf(failure: ApplicationFailure): Record<string, unknown> {
  const [first] = failure.details ?? [];
  return typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
}

/**
 * One P2P transfer (PROTO 7.2), started by the sender's first confirm or cancel (Update-with-Start,
 * so the answer costs one workflow task), or by the API's sweeper for a transfer nobody confirmed
 * in time: checks the sender's proof, moves the money (straight to the recipient, or into a hold
 * the recipient accepts or rejects), and announces it in the room. Every change is written to
 * PostgreSQL by the activities; this code decides what happens next.
 *
 * A workflow type of its own rather than a patch of p2pTransfer: the sagas that initiate started
 * keep their type and code and finish as they began.
 */
export async function p2pSaga(input: P2PInput): Promise<P2PSnapshot> {
  return runP2P(input, { v2: true, startedAtInitiate: false });
}

/** Sagas started by initiate, before p2pSaga (recorded histories p2p-v1 to p2p-v4). Never started any more. */
export async function p2pTransfer(input: P2PInput): Promise<P2PSnapshot> {
  return runP2P(input, { v2: patched(P2P_V2), startedAtInitiate: true });
}

interface SagaShape {
  /** Ledger steps as local activities, states changed after PostgreSQL has them. */
  v2: boolean;
  /** Started when the transfer was initiated: the window is counted from the start, and never checked by the validators. */
  startedAtInitiate: boolean;
}

async function runP2P(input: P2PInput, shape: SagaShape): Promise<P2PSnapshot> {
  const { transferId } = input;
  const { v2 } = shape;
  const { closeP2P, finishP2P, recordAuthAttempts, recordP2PEvent, settleP2P, verifyP2PProof } = v2 ? localSteps : remoteSteps;
  const { proveAndSettleP2P } = localSteps;
  // On the workflow clock, so the Temporal server's clock and the API's need not agree: the API
  // gives what was left of the window when it started the saga, nothing when it was over.
  const windowEndsAt = workflowNow() + input.authorizationWindowMs;
  const snapshot: P2PSnapshot = { transferId, status: 'pending_authorization', authAttempts: 0 };
  // One state-changing call at a time; validators refuse others while one runs.
  const gate = exclusive();
  // Numbers each confirmation so a proof used by one attempt cannot be used by the next.
  let confirmations = 0;
  const sends: Promise<void>[] = [];

  const setStatus = (status: P2PState) => {
    snapshot.status = status;
    upsertSearchAttributes([{ key: TMCP_STATUS, value: status }]);
  };

  const validator = (action: P2PAction) => (request: { userId: string }) => {
    // A call after the window is refused as it will be once the transfer is cancelled (a saga
    // started late, by that very call, cancels it at once).
    const windowOver = !shape.startedAtInitiate && snapshot.status === 'pending_authorization' && workflowNow() >= windowEndsAt;
    const refusal = refuseAction(
      action,
      { transferId, status: windowOver ? 'cancelled' : snapshot.status, senderUserId: input.sender.userId, recipientUserId: input.recipient.userId },
      request.userId,
    );
    if (refusal) throw ApplicationFailure.create({ type: refusal.code, message: refusal.message, details: [refusal.details], nonRetryable: true });
    if (gate.busy) {
      throw ApplicationFailure.create({ type: 'INVALID_STATE', message: 'Another request for this transfer is in progress', details: [{ transfer_id: transferId }], nonRetryable: true });
    }
  };

  /** Writes a transition, then shows it: v2 changes the state once PostgreSQL has it (v1 histories changed it first). */
  const transition = async <T>(status: P2PState, write: () => Promise<T>): Promise<T> => {
    if (!v2) setStatus(status);
    const written = await write();
    if (v2) setStatus(status);
    return written;
  };

  /** Ends a transfer before any money moved. */
  const close = (status: 'cancelled' | 'auth_failed', reason: string) =>
    transition(status, () => closeP2P({ transferId, status, reason, authAttempts: snapshot.authAttempts }));

  // v2: the first attempt runs inside the workflow task, so a homeserver that answers at once adds
  // no round trip through Temporal to confirm; a failure worth retrying goes on as a regular activity.
  const firstSend = proxyLocalActivities<Activities>({ startToCloseTimeout: Math.max(1, input.eventWaitMs), retry: { maximumAttempts: 1 } });
  const send = async (event: RoomEvent) => {
    if (v2 && input.eventWaitMs > 0) {
      try {
        return await firstSend.sendMatrixEvent(event);
      } catch (err) {
        const failure = domainFailure(err);
        if (failure?.nonRetryable) throw err;
        // A 429's retry_after_ms (the regular activity's retry policy honours it by itself).
        const retryAfterMs = failure ? detailsOf(failure).retry_after_ms : undefined;
        if (typeof retryAfterMs === 'number') await sleep(retryAfterMs);
      }
    }
    return sendMatrixEvent(event);
  };

  /** Sends a room event in the background; its outcome is written on the transfer. The saga ends only after it. */
  const announce = (slot: 'transfer' | 'status', type: string, content: Record<string, unknown>) => {
    if (!input.roomId) return;
    const roomId = input.roomId;
    const sent = (async () => {
      try {
        const result = await send({ roomId, type, content, txnId: `${workflowInfo().workflowId}.${slot}` });
        if (!result.eventId) return;
        if (slot === 'transfer') snapshot.eventId = result.eventId;
        else snapshot.statusEventId = result.eventId;
        await recordP2PEvent({ transferId, slot, eventId: result.eventId });
      } catch (err) {
        // A refusal (domain failure), or retries that ran out (the send's schedule-to-close timeout).
        const failure = domainFailure(err);
        if (!failure && !(err instanceof ActivityFailure)) throw err;
        const error = failure ? `${failure.type ?? 'error'}: ${failure.message}` : `gave up: ${(err as ActivityFailure).cause?.message ?? (err as ActivityFailure).message}`;
        if (slot === 'transfer') snapshot.eventError = error;
        else snapshot.statusEventError = error;
        await recordP2PEvent({ transferId, slot, error });
      }
    })();
    sends.push(sent);
    return sent;
  };

  setHandler(p2pState, () => ({ ...snapshot }));

  setHandler(
    confirmP2P,
    ({ userId, authProof }) =>
      gate.run(async () => {
        // The recipient's window is counted from the settlement's workflow task.
        const acceptanceEnd = () => (input.recipientAcceptanceRequired ? new Date(workflowNow() + input.acceptanceWindowMs).toISOString() : undefined);
        let acceptanceExpiresAt: string | undefined;
        const proofRequest = {
          transferId,
          userId,
          amountMinor: input.amountMinor,
          currency: input.currency,
          proof: authProof,
          attemptKey: `${transferId}#${(confirmations += 1)}`,
        };
        let settled: Awaited<ReturnType<typeof settleP2P>> | undefined;
        try {
          if (!shape.startedAtInitiate && patched(P2P_V6)) {
            acceptanceExpiresAt = acceptanceEnd();
            settled = await proveAndSettleP2P({ ...proofRequest, authAttempts: snapshot.authAttempts + 1, acceptanceExpiresAt });
          } else {
            await verifyP2PProof(proofRequest);
          }
        } catch (err) {
          const failure = domainFailure(err);
          if (!failure || !PROOF_FAILURES.has(failure.type ?? '')) throw err;
          snapshot.authAttempts += 1;
          const remaining = input.maxAuthAttempts - snapshot.authAttempts;
          const details = detailsOf(failure);
          if (failure.type === 'MFA_LOCKED' || remaining <= 0) {
            await close('auth_failed', 'too_many_failed_proofs');
            throw ApplicationFailure.create({
              type: 'MFA_LOCKED',
              message: 'Too many failed proofs: the transfer was stopped',
              details: [{ ...details, transfer_id: transferId, transfer_status: 'auth_failed', attempts_remaining: 0 }],
              nonRetryable: true,
            });
          }
          await recordAuthAttempts({ transferId, authAttempts: snapshot.authAttempts });
          const userRemaining = typeof details.attempts_remaining === 'number' ? details.attempts_remaining : remaining;
          throw ApplicationFailure.create({
            type: failure.type ?? undefined,
            message: failure.message,
            details: [{ ...details, attempts_remaining: Math.min(remaining, userRemaining) }],
            nonRetryable: true,
          });
        }
        if (!settled) {
          acceptanceExpiresAt = acceptanceEnd();
          settled = await settleP2P({ transferId, authMethod: authProof.method, authAttempts: snapshot.authAttempts + 1, acceptanceExpiresAt });
        }
        snapshot.authAttempts += 1;
        snapshot.confirmedAt = settled.at;
        snapshot.acceptanceExpiresAt = acceptanceExpiresAt;
        if (settled.status === 'completed') snapshot.completedAt = settled.at;
        setStatus(settled.status);
        let announced = false;
        void announce('transfer', P2P_EVENT_TYPE, p2pEventContent(input, settled.status, settled.at, acceptanceExpiresAt))?.then(() => {
          announced = true;
        });
        // Answer with the event id when the homeserver is quick; never hold the answer for long.
        if (input.roomId) await condition(() => announced, input.eventWaitMs);
        return { ...snapshot };
      }),
    { validator: validator('confirm') },
  );

  setHandler(
    cancelP2P,
    () =>
      gate.run(async () => {
        await close('cancelled', 'cancelled_by_sender');
        return { ...snapshot };
      }),
    { validator: validator('cancel') },
  );

  setHandler(
    acceptP2P,
    () =>
      gate.run(async () => {
        const done = await finishP2P({ transferId, outcome: 'accepted' });
        snapshot.completedAt = done.at;
        setStatus('completed');
        void announce('status', P2P_STATUS_EVENT_TYPE, p2pStatusEventContent(transferId, 'completed', done.at));
        return { ...snapshot };
      }),
    { validator: validator('accept') },
  );

  setHandler(
    rejectP2P,
    ({ reason, message }) =>
      gate.run(async () => {
        const done = await finishP2P({ transferId, outcome: 'rejected', reason, message });
        snapshot.rejectedAt = done.at;
        setStatus('rejected');
        void announce('status', P2P_STATUS_EVENT_TYPE, p2pStatusEventContent(transferId, 'rejected', done.at));
        return { ...snapshot };
      }),
    { validator: validator('reject') },
  );

  // The timers' own transitions hold the gate too, so a late confirm or accept is refused meanwhile.
  // A confirm that settles within its first workflow task starts and cancels this timer inside that
  // task: the worker then sends neither. condition(fn, 0) would add a marker, so an elapsed window is not waited for.
  if (shape.startedAtInitiate || input.authorizationWindowMs > 0) {
    await condition(() => snapshot.status !== 'pending_authorization', input.authorizationWindowMs, { summary: 'authorization window' });
  }
  await condition(() => !gate.busy);
  if (snapshot.status === 'pending_authorization') await gate.run(() => close('cancelled', 'authorization_window_elapsed'));

  if (snapshot.status === 'pending_recipient_acceptance') {
    await condition(() => snapshot.status !== 'pending_recipient_acceptance', input.acceptanceWindowMs, { summary: 'acceptance window' });
    await condition(() => !gate.busy);
    if (snapshot.status === 'pending_recipient_acceptance') {
      await gate.run(async () => {
        const done = await transition('expired', () => finishP2P({ transferId, outcome: 'expired' }));
        void announce('status', P2P_STATUS_EVENT_TYPE, p2pStatusEventContent(transferId, 'expired', done.at));
      });
    }
  }

  await condition(allHandlersFinished);
  await Promise.all(sends);
  return { ...snapshot };
}
