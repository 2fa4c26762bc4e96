import type { Config } from '../config';
import { overdueTransfers, type Transfer } from '../db/p2p';
import { amountToJson } from '../domain/money';
import { p2pWorkflowId, type P2PInput } from '../domain/p2p';
import { clientAttribute, TMCP_ROOM_ID, TMCP_STATUS, TMCP_USER_IDS } from '../domain/searchAttributes';
import { startIdempotently, type StartOptions } from '../temporal/client';
import { sagaUnavailable } from '../temporal/sagaCalls';
import type { p2pSaga } from '../../workflows/p2pTransfer';
import type { P2PDeps } from './p2p';

/** What starting a saga needs (the API's requests, and its sweeper). */
export type SagaStartDeps = Pick<P2PDeps, 'pool' | 'temporal' | 'log' | 'clock'> & { config: Pick<Config, 'p2p' | 'sagaAnswerTimeoutMs'> };

function sagaInput(t: Transfer, config: Pick<Config, 'p2p'>, now: Date): P2PInput {
  return {
    transferId: t.id,
    sender: { userId: t.sender_user_id, walletId: t.sender_wallet_id },
    recipient: { userId: t.recipient_user_id, walletId: t.recipient_wallet_id },
    amountMinor: t.amount.toString(),
    currency: t.currency,
    ...(t.note !== null ? { note: t.note } : {}),
    ...(t.room_id !== null ? { roomId: t.room_id } : {}),
    recipientAcceptanceRequired: t.recipient_acceptance_required,
    createdAt: t.created_at.toISOString(),
    // From now: a saga started by a late call or by the sweeper ends at the expires_at initiate answered.
    authorizationWindowMs: Math.max(0, t.authorization_expires_at.getTime() - now.getTime()),
    acceptanceWindowMs: config.p2p.acceptanceWindowMs,
    eventWaitMs: config.p2p.eventWaitMs,
    maxAuthAttempts: config.p2p.maxAuthAttempts,
  };
}

/**
 * How the transfer's saga is started. The workflow id comes from the transfer id, so concurrent or
 * retried calls reach one workflow: a running one is used (also a p2pTransfer that an initiate
 * started before p2pSaga existed), a finished one is never started again (onceById).
 */
export function sagaStart(deps: SagaStartDeps, t: Transfer): StartOptions<typeof p2pSaga> {
  const amount = `${amountToJson(t.amount, t.currency)} ${t.currency}`;
  return {
    workflowId: p2pWorkflowId(t.id),
    args: [sagaInput(t, deps.config, deps.clock.now())],
    staticSummary: `P2P ${t.id}: ${t.sender_user_id} → ${t.recipient_user_id}, ${amount}${t.room_id ? ` in ${t.room_id}` : ''}`,
    typedSearchAttributes: [
      { key: TMCP_STATUS, value: t.status },
      { key: TMCP_USER_IDS, value: [t.sender_user_id, t.recipient_user_id] },
      ...(t.room_id ? [{ key: TMCP_ROOM_ID, value: t.room_id }] : []),
      ...clientAttribute(t.client_id),
    ],
  };
}

/** Starts the saga of a transfer nobody confirmed in time: with its window over, it cancels the transfer at once. */
async function startSaga(deps: SagaStartDeps, t: Transfer): Promise<void> {
  // Temporal out of reach: this sweep round ends here, the next one starts from the first again.
  if (!(await startIdempotently<typeof p2pSaga>(deps.temporal, deps.log, 'p2pSaga', sagaStart(deps, t), { transfer_id: t.id }))) {
    throw sagaUnavailable('Transfers are unavailable right now; retry later', { transfer_id: t.id });
  }
}

const SWEEP_BATCH = 100;

/**
 * Transfers whose authorization window is over but which still wait for it: nobody confirmed or
 * cancelled them, so no saga was ever started. Starting it (idempotent by workflow id) closes the
 * transfer: with its window over, the saga cancels it at once. A saga that is running already
 * (its confirm failed; its own timer ends it) is left to itself. One pass over every overdue
 * transfer, page by page, so one that stays pending (its worker is down) waits for the next round.
 */
export async function sweepUnstartedTransfers(deps: SagaStartDeps, graceMs: number): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - graceMs);
  let swept = 0;
  let last: string | undefined;
  for (;;) {
    const overdue = await overdueTransfers(deps.pool, before, SWEEP_BATCH, last);
    for (const transfer of overdue) await startSaga(deps, transfer);
    swept += overdue.length;
    last = overdue.at(-1)?.id;
    if (overdue.length < SWEEP_BATCH) return swept;
  }
}

