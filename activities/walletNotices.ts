import { externalAccountById } from '../src/db/externalAccounts';
import { topUpById } from '../src/db/topups';
import { withdrawalById } from '../src/db/withdrawals';
import { AUTHORIZATION_STATE_TYPE, revokedAuthorizationContent, type AuthorizationRevoked } from '../src/domain/authorizationEvents';
import { paymentsBot } from '../src/matrix/bots';
import { MatrixRequestError, sendStateEvent } from '../src/matrix/client';
import { TOPUP_EVENT_TYPE, topUpCreditedContent, WITHDRAWAL_EVENT_TYPE, withdrawalEndedContent } from '../src/domain/walletEvents';
import { directRoomWith, matrixFailure, sendAsPaymentsBot, type MatrixActivityDeps } from './matrix';

/**
 * Telling the user of money that came in or went out from outside: in the room the operation named,
 * else in their direct room with the payments bot (made on first need). Each send has a fixed
 * transaction id, so a retried one is one event.
 */
export function walletNoticeActivities(deps: MatrixActivityDeps) {
  const roomFor = async (userId: string, named: string | null) => named ?? (await directRoomWith(deps, deps.matrix!, userId));

  return {
    async announceTopUp(req: { topUpId: string }): Promise<{ eventId?: string; skipped?: string }> {
      if (!deps.matrix) return { skipped: 'matrix_off' };
      const t = await topUpById(deps.pool, req.topUpId);
      if (t?.status !== 'succeeded' || !t.txn_id) return { skipped: 'not_credited' };
      const content = topUpCreditedContent({ id: t.id, userId: t.user_id, amount: t.amount, currency: t.currency, txnId: t.txn_id, provider: t.provider });
      return sendAsPaymentsBot(deps, { roomId: await roomFor(t.user_id, t.room_id), type: TOPUP_EVENT_TYPE, content, txnId: `topup-${t.id}.credited` });
    },

    /**
     * PROTO 5.6: the revocation documented as the `m.room.tween.authorization` state of the user's
     * direct room with the payments bot (the room the bot keeps with each user), keyed by the mini-app.
     */
    async recordRevocation(req: AuthorizationRevoked): Promise<{ eventId?: string; skipped?: string }> {
      if (!deps.matrix) return { skipped: 'matrix_off' };
      const roomId = await roomFor(req.userId, null);
      try {
        const state = { roomId, type: AUTHORIZATION_STATE_TYPE, stateKey: req.clientId, content: revokedAuthorizationContent(req) };
        return await sendStateEvent(deps.matrix, { ...state, asUser: paymentsBot(deps.matrix.serverName) });
      } catch (err) {
        if (!(err instanceof MatrixRequestError)) throw err;
        deps.log.warn({ room_id: roomId, client_id: req.clientId, status: err.status, errcode: err.errcode }, `authorization state not written: ${err.message}`);
        throw matrixFailure(err);
      }
    },

    async announceWithdrawal(req: { withdrawalId: string }): Promise<{ eventId?: string; skipped?: string }> {
      if (!deps.matrix) return { skipped: 'matrix_off' };
      const w = await withdrawalById(deps.pool, req.withdrawalId);
      if (!w || w.owner_kind !== 'user' || !['completed', 'failed', 'expired'].includes(w.status) || !w.hold_txn_id) return { skipped: 'nothing_to_tell' };
      const account = await externalAccountById(deps.pool, w.external_account_id);
      const content = withdrawalEndedContent({ id: w.id, userId: w.owner_id, amount: w.amount, currency: w.currency, status: w.status, label: account?.label ?? 'your account' });
      return sendAsPaymentsBot(deps, { roomId: await roomFor(w.owner_id, null), type: WITHDRAWAL_EVENT_TYPE, content, txnId: `withdrawal-${w.id}.${w.status}` });
    },
  };
}
