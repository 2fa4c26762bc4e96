import { actsThrough, type Caller } from '../auth/caller';
import type { Config } from '../config';
import { createKeyedDigest, type Sealer } from '../crypto/sealing';
import { walletBalances } from '../db/ledger';
import { countFailedCall, initiationFacts, insertTransfer, transferById, type Transfer } from '../db/p2p';
import type { DatabasePool } from '../db/pool';
import { DomainError, invalidField } from '../domain/errors';
import { amountToJson, type Currency } from '../domain/money';
import { p2pWorkflowId, refuseAction, type AuthProof, type P2PAction, type P2PSnapshot, type P2PState, type PartyRequest } from '../domain/p2p';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { Rooms } from '../matrix/rooms';
import type { Temporal } from '../temporal/client';
import { keyedUpdateId, sagaUnavailable, updateSaga } from '../temporal/sagaCalls';
import { replayStored, requestHash } from '../idempotency';
import { acceptP2P, cancelP2P, confirmP2P, rejectP2P } from '../../workflows/p2pMessages';
import { methodsOf } from '../factors/enrolment';
import { refuseOverLimits } from '../ledger/limits';
import { recipientNoWallet } from '../ledger/p2p';
import { proofSealer, sealProof } from '../factors/proofs';
import { noWallet } from '../wallet/wallets';
import { sagaStart } from './saga';
import { parties, transferView } from './views';

export interface P2PDeps {
  pool: DatabasePool;
  clock: Clock;
  temporal: Temporal;
  config: Pick<Config, 'p2p' | 'wallet' | 'sagaAnswerTimeoutMs'>;
  log: Logger;
  /** Seals auth proofs before they enter the saga's history. */
  proofSealer: Sealer;
  /** Names each Update after its caller and input without revealing the input (a proof). */
  updateIds: (text: string) => string;
  rooms: Rooms;
}

export interface InitiateRequest {
  /** The mini-app the sender uses (its proofs' failures count there). */
  clientId: string;
  recipient: string;
  amount: bigint;
  currency: Currency;
  note?: string;
  roomId?: string;
  idempotencyKey: string;
}

/** The API's P2P secrets, both from DATA_ENCRYPTION_KEY: the proof sealer and the Update namer. */
export function p2pSecrets(dataKey: Buffer): Pick<P2PDeps, 'proofSealer' | 'updateIds'> {
  return { proofSealer: proofSealer(dataKey), updateIds: createKeyedDigest(dataKey, 'p2p-update-id') };
}

const hashOf = (r: InitiateRequest) => requestHash([r.recipient, r.amount.toString(), r.currency, r.note ?? null, r.roomId ?? null]);

const replay = (existing: Transfer, hash: string) => replayStored(existing.request_hash, hash, existing.initiate_response, 'transfer', { transfer_id: existing.id });

/** PROTO 6.3.5: a transfer announced in a room is between two joined members of that room. */
async function requireBothInRoom(rooms: Rooms, roomId: string, senderUserId: string, recipient: string): Promise<void> {
  const joined = await rooms.joinedIn(roomId, [senderUserId, recipient]);
  if (!joined.has(senderUserId)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'You are not a joined member of room_id', { field: 'room_id', room_id: roomId });
  }
  if (!joined.has(recipient)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'The recipient is not a joined member of room_id', { field: 'room_id', room_id: roomId });
  }
}

/** PROTO 7.2.3. Idempotent per sender and idempotency_key: a repeat answers the stored response. */
export async function initiateTransfer(deps: P2PDeps, senderUserId: string, req: InitiateRequest) {
  const hash = hashOf(req);
  // Every check's input in one read; the checks run in the order they always did.
  const facts = await initiationFacts(deps.pool, senderUserId, req.recipient, req.idempotencyKey);
  const existing = facts?.existingTransferId ? await transferById(deps.pool, facts.existingTransferId) : null;
  if (existing) return replay(existing, hash);

  if (!facts) throw noWallet(senderUserId);
  const { sender, recipient } = facts;
  if (sender.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_status: sender.status });
  if (req.recipient === senderUserId) throw invalidField('recipient', 'must not be the sender');
  if (req.roomId !== undefined) await requireBothInRoom(deps.rooms, req.roomId, senderUserId, req.recipient);
  else if (!(await deps.rooms.sharingARoom(senderUserId, [req.recipient])).has(req.recipient)) throw recipientNoWallet(req.recipient);
  // A suspended or closed wallet is answered like a missing one: the sender learns nothing more.
  if (!recipient || recipient.status !== 'active') throw recipientNoWallet(req.recipient);
  if (req.currency !== sender.currency || req.currency !== recipient.currency) {
    throw new DomainError('CURRENCY_MISMATCH', 'currency must be the currency of both wallets', {
      field: 'currency',
      currency: req.currency,
      sender_currency: sender.currency,
      recipient_currency: recipient.currency,
    });
  }
  refuseOverLimits(sender, req.amount, facts.used);
  const methods = methodsOf(facts.enrolled);
  if (methods.length === 0) {
    throw new DomainError('MFA_REQUIRED', 'Set up a payment PIN, a device key or TOTP before sending money', {
      setup: ['POST /api/v1/wallet/pin', 'POST /api/v1/wallet/devices/register', 'POST /api/v1/wallet/totp/enroll'],
    });
  }

  const threshold = deps.config.p2p.acceptanceThresholds[req.currency];
  const acceptanceRequired = recipient.requiresAcceptance || (threshold !== undefined && req.amount > threshold);
  const id = deps.clock.newId('transfer');
  const createdAt = deps.clock.now();
  const expiresAt = new Date(createdAt.getTime() + deps.config.p2p.authorizationWindowMs);
  const response = {
    transfer_id: id,
    status: 'pending_authorization' satisfies P2PState,
    available_methods: methods,
    recipient_acceptance_required: acceptanceRequired,
    amount: amountToJson(req.amount, req.currency),
    currency: req.currency,
    ...(req.note !== undefined ? { note: req.note } : {}),
    ...(req.roomId !== undefined ? { room_id: req.roomId } : {}),
    sender: { user_id: senderUserId },
    recipient: { user_id: req.recipient },
    timestamp: createdAt.toISOString(),
    expires_at: expiresAt.toISOString(),
  };
  const { transfer, created } = await insertTransfer(deps.pool, {
    id,
    senderUserId,
    senderWalletId: sender.id,
    recipientUserId: req.recipient,
    recipientWalletId: recipient.walletId,
    amount: req.amount,
    currency: req.currency,
    note: req.note,
    roomId: req.roomId,
    recipientAcceptanceRequired: acceptanceRequired,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    initiateResponse: response,
    clientId: req.clientId,
    createdAt,
    authorizationExpiresAt: expiresAt,
  }, deps.config.p2p.maxPendingPerSender);
  if (!created) return replay(transfer, hash);
  // No saga yet: the first confirm or cancel starts it (one workflow task instead of two), or the
  // sweeper does once the window is over. The stored copy, so the first answer and every replay are the same bytes.
  return { replayed: false, body: transfer.initiate_response };
}

/** A transfer the caller is a party to; anyone else is told it does not exist. */
async function partyTransfer(deps: Pick<P2PDeps, 'pool'>, userId: string, transferId: string): Promise<Transfer> {
  const t = await transferById(deps.pool, transferId);
  if (!t || (t.sender_user_id !== userId && t.recipient_user_id !== userId)) {
    throw new DomainError('TRANSFER_NOT_FOUND', 'Transfer not found', { transfer_id: transferId });
  }
  return t;
}

function refusalFor(action: P2PAction, t: Transfer, userId: string): DomainError | undefined {
  const refusal = refuseAction(action, { transferId: t.id, status: t.status, senderUserId: t.sender_user_id, recipientUserId: t.recipient_user_id }, userId);
  return refusal && new DomainError(refusal.code, refusal.message, refusal.details);
}

const UPDATES = { confirm: confirmP2P, accept: acceptP2P, reject: rejectP2P, cancel: cancelP2P } as const;
/** The calls that can be a transfer's first, and so start its saga. */
const STARTING_ACTIONS: ReadonlySet<P2PAction> = new Set(['confirm', 'cancel']);

/**
 * Sends one action to the transfer's saga as a Workflow Update and returns the saga's answer. The
 * Update is named after the caller, the action, its input (for confirm, the proof in clear, under a
 * keyed digest) and the refusals answered so far. A call repeated after a timeout is therefore the
 * same Update, and Temporal answers it with the first call's outcome, even once the saga has
 * finished; a call repeated after a refusal the client received (a top-up after INSUFFICIENT_FUNDS)
 * is a new Update, checked again. The saga's validator decides anything new; a finished saga that
 * never saw this call is answered from PostgreSQL by the same rule.
 */
async function act(
  deps: P2PDeps,
  action: P2PAction,
  userId: string,
  transferId: string,
  payload: Record<string, unknown>,
  input: unknown = payload,
  via?: Caller,
): Promise<{ transfer: Transfer; snapshot: P2PSnapshot }> {
  const transfer = await partyTransfer(deps, userId, transferId);
  // The sender confirms or cancels through the mini-app that initiated the transfer (or their
  // messenger): another app holding the user's token cannot spend their proofs' attempts on it.
  if (via && userId === transfer.sender_user_id && !actsThrough(via, transfer.client_id)) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', `Only the mini-app that initiated the transfer can ${action} it`, { transfer_id: transferId, client_id: via.clientId });
  }
  // Each update takes the caller plus its own fields; the saga's validator checks both.
  const update = UPDATES[action] as unknown as typeof acceptP2P;
  // The sender's first confirm or cancel starts the saga with it, in one request to Temporal.
  const startsSaga = STARTING_ACTIONS.has(action) && transfer.status === 'pending_authorization' && userId === transfer.sender_user_id;
  const outcome = await updateSaga(deps, {
    workflowId: p2pWorkflowId(transferId),
    update,
    arg: { userId, ...payload } as PartyRequest,
    updateId: keyedUpdateId(deps.updateIds, action, [transferId, userId, action, input], transfer.failed_calls),
    start: startsSaga ? () => ({ workflowType: 'p2pSaga', options: sagaStart(deps, transfer) }) : undefined,
    // The saga has finished since the row was read: ask it as any finished saga is asked.
    askFinished: true,
    fields: { transfer_id: transferId },
    unavailable: 'The transfer could not be reached right now; retry the same request',
  });
  if ('answer' in outcome) return { transfer, snapshot: outcome.answer };
  const refusal = 'refusal' in outcome ? outcome.refusal : refusalFor(action, await partyTransfer(deps, userId, transferId), userId);
  if (!refusal) throw sagaUnavailable('The transfer could not be reached right now; retry the same request', { transfer_id: transferId });
  await countFailedCall(deps.pool, transferId, transfer.failed_calls);
  throw refusal;
}

/** PROTO 7.2.4 */
export async function confirmTransfer(deps: P2PDeps, caller: Caller, transferId: string, authProof: AuthProof) {
  const sealed = sealProof(deps.proofSealer, transferId, authProof);
  const { transfer: t, snapshot } = await act(deps, 'confirm', caller.userId, transferId, { authProof: sealed }, authProof, caller);
  return {
    transfer_id: t.id,
    status: snapshot.status,
    recipient_acceptance_required: t.recipient_acceptance_required,
    amount: amountToJson(t.amount, t.currency),
    currency: t.currency,
    ...parties(t),
    timestamp: snapshot.confirmedAt,
    ...(snapshot.acceptanceExpiresAt ? { expires_at: snapshot.acceptanceExpiresAt } : {}),
    ...(snapshot.eventId ? { event_id: snapshot.eventId } : {}),
  };
}

/** PROTO 7.2.7 accept */
export async function acceptTransfer(deps: P2PDeps, userId: string, transferId: string) {
  const { transfer: t, snapshot } = await act(deps, 'accept', userId, transferId, {});
  const balance = await walletBalances(deps.pool, t.recipient_wallet_id, t.currency);
  return {
    transfer_id: t.id,
    status: snapshot.status,
    amount: amountToJson(t.amount, t.currency),
    currency: t.currency,
    recipient: parties(t).recipient,
    accepted_at: snapshot.completedAt,
    new_balance: amountToJson(balance.available, t.currency),
  };
}

/** PROTO 7.2.7 reject: the hold goes back to the sender in the same database transaction. */
export async function rejectTransfer(deps: P2PDeps, userId: string, transferId: string, reason: { reason?: string; message?: string }) {
  const { transfer: t, snapshot } = await act(deps, 'reject', userId, transferId, reason);
  return {
    transfer_id: t.id,
    status: snapshot.status,
    rejected_at: snapshot.rejectedAt,
    refund_initiated: true as const,
    refund_expected_at: snapshot.rejectedAt,
  };
}

export async function cancelTransfer(deps: P2PDeps, caller: Caller, transferId: string) {
  await act(deps, 'cancel', caller.userId, transferId, {}, {}, caller);
  return transferView(await partyTransfer(deps, caller.userId, transferId));
}

export async function getTransfer(deps: Pick<P2PDeps, 'pool'>, userId: string, transferId: string) {
  return transferView(await partyTransfer(deps, userId, transferId));
}
