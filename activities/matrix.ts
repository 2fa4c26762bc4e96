import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../src/logger';
import { MatrixRequestError, paymentsBot, sendRoomEvent, type MatrixSettings } from '../src/matrix/client';

export interface MatrixActivityDeps {
  log: Logger;
  /** Undefined when no homeserver is configured. */
  matrix: MatrixSettings | undefined;
}

export interface RoomEvent {
  roomId: string;
  type: string;
  content: Record<string, unknown>;
  /** Fixed per saga step, so a retried send is deduplicated by the homeserver. */
  txnId: string;
}

export function matrixActivities(deps: MatrixActivityDeps) {
  return {
    /**
     * Injects an event into a room as the payments bot. Network errors, 5xx and 429 are retried
     * (429 after the homeserver's retry_after_ms); any other refusal fails the step for good.
     */
    async sendMatrixEvent(event: RoomEvent): Promise<{ eventId?: string; skipped?: 'matrix_off' }> {
      if (!deps.matrix) {
        deps.log.info({ room_id: event.roomId, type: event.type, txn_id: event.txnId }, 'Matrix is off: room event skipped');
        return { skipped: 'matrix_off' };
      }
      try {
        return await sendRoomEvent(deps.matrix, { ...event, asUser: paymentsBot(deps.matrix.serverName) });
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        deps.log.warn({ room_id: event.roomId, type: event.type, txn_id: event.txnId, status: err.status, errcode: err.errcode }, err.message);
        throw ApplicationFailure.create({
          type: err.retryable ? 'MATRIX_UNAVAILABLE' : 'MATRIX_SEND_REFUSED',
          message: err.message,
          details: [{ status: err.status, errcode: err.errcode, retry_after_ms: err.retryAfterMs }],
          nonRetryable: !err.retryable,
          nextRetryDelay: err.retryAfterMs,
        });
      }
    },
  };
}
