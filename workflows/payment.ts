import { ActivityFailure, allHandlersFinished, condition, ParentClosePolicy, patched, proxyLocalActivities, setHandler, startChild, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ID_PREFIX } from '../src/domain/ids';
import { PAYMENT_REQUEST_EVENT_TYPE, paymentEventContent, paymentOutcomeEventType, paymentRequestContent } from '../src/domain/paymentEvents';
import { MFA_METHODS, PAYMENT_CANCELLABLE_STATES, PAYMENT_TERMINAL_STATES, type CancelRequest, type MfaMethod, type PaymentInput, type PaymentSnapshot, type PaymentState } from '../src/domain/payments';
import { TMCP_STATUS } from '../src/domain/searchAttributes';
import { webhookWorkflowId } from '../src/domain/webhooks';
import { authorizePayment, cancelPayment, issueMfaChallenge, paymentState, verifyMfa } from './paymentMessages';
import { webhookDelivery } from './webhookDelivery';
import { workflowNow } from './clock';
import { domainFailure, exclusive, LOCAL_STEPS, refuse, roomEvents } from './common';

const { assessPayment, closePayment, markPaymentMfaRequired, recordPaymentEvent, settlePayment, verifyPaymentAuthorization, verifyPaymentMfa } = proxyLocalActivities<Activities>(LOCAL_STEPS);
const { sendMatrixEvent } = roomEvents();

/** v2: a payment refused at capture goes back to the state it was in, instead of staying `processing`. */
const PAYMENT_V2 = 'payment-v2-capture-refusal-reopens';
/** v3: the room the payment names hears of the request (PROTO 8.1.2), and the outcome's event refers to it. */
const PAYMENT_V3 = 'payment-v3-request-event';

/** Failures that count as a wrong answer to the challenge. */
const WRONG_ANSWERS = new Set(['INVALID_SIGNATURE', 'INVALID_MFA_CREDENTIALS']);

/**
 * One mini-app payment (PROTO 7.3, PROTO-mfa 7.4), from the request until it is completed, failed
 * or expired. The payer's authorization, a new MFA challenge and each answer to it are Workflow
 * Updates; the authorization window and the challenge's expiry are on the workflow clock. The
 * activities write every change to PostgreSQL; this code decides what happens next. Money moves in
 * one place (settlePayment), once, and never after the payment failed or expired.
 */
export async function paymentSaga(input: PaymentInput): Promise<PaymentSnapshot> {
  const { paymentId } = input;
  const windowEndsAt = workflowNow() + input.authorizationWindowMs;
  const snapshot: PaymentSnapshot = { paymentId, status: 'pending_authorization' };
  const gate = exclusive();
  let authorizations = 0;
  let answers = 0;
  const sends: Promise<void>[] = [];

  const setStatus = (status: PaymentState) => {
    snapshot.status = status;
    upsertSearchAttributes([{ key: TMCP_STATUS, value: status }]);
  };
  const ended = () => PAYMENT_TERMINAL_STATES.includes(snapshot.status);

  const checkCaller = (userId: string, expected: PaymentState) => {
    if (userId !== input.payer.userId) refuse('NOT_FOUND', 'Payment not found', { payment_id: paymentId });
    if (snapshot.status === expected && workflowNow() >= windowEndsAt) refuse('INVALID_STATE', 'The payment has expired', { payment_id: paymentId, status: 'expired' });
    if (snapshot.status !== expected) refuse('INVALID_STATE', `The payment is ${snapshot.status}`, { payment_id: paymentId, status: snapshot.status });
    if (gate.busy) refuse('INVALID_STATE', 'Another request for this payment is in progress', { payment_id: paymentId });
  };

  /** The request's room event, sent first; undefined when there is none (no room, sagas before v3, or it could not be sent). */
  let requested: Promise<string | undefined> = Promise.resolve(undefined);
  if (input.roomId && patched(PAYMENT_V3)) {
    const roomId = input.roomId;
    requested = (async () => {
      try {
        const sent = await sendMatrixEvent({ roomId, type: PAYMENT_REQUEST_EVENT_TYPE, content: paymentRequestContent(input), txnId: `${workflowInfo().workflowId}.request` });
        snapshot.requestEventId = sent.eventId;
        return sent.eventId;
      } catch (err) {
        if (!domainFailure(err) && !(err instanceof ActivityFailure)) throw err;
        return undefined;
      }
    })();
    sends.push(requested.then(() => undefined));
  }

  /** Sends the room event in the background, after the request's; the workflow ends only after it. */
  const announce = (outcome: ReturnType<typeof paymentEventContent>) => {
    if (!input.roomId) return;
    const roomId = input.roomId;
    const type = paymentOutcomeEventType(outcome.status);
    sends.push(
      (async () => {
        try {
          const requestEventId = await requested;
          const content = requestEventId ? { ...outcome, request_event_id: requestEventId, 'm.relates_to': { rel_type: 'm.reference', event_id: requestEventId } } : outcome;
          const sent = await sendMatrixEvent({ roomId, type, content, txnId: `${workflowInfo().workflowId}.${outcome.status}` });
          if (sent.eventId) snapshot.eventId = sent.eventId;
          await recordPaymentEvent({ paymentId, eventId: sent.eventId });
        } catch (err) {
          const failure = domainFailure(err);
          if (!failure && !(err instanceof ActivityFailure)) throw err;
          await recordPaymentEvent({ paymentId, error: failure ? `${failure.type ?? 'error'}: ${failure.message}` : 'gave up' });
        }
      })(),
    );
  };

  /** The webhook event the ledger queued with the change: delivered by a workflow of its own, which outlives this one. */
  const deliver = async (eventId: string | null) => {
    if (!eventId) return;
    try {
      await startChild(webhookDelivery, { workflowId: webhookWorkflowId(eventId), args: [{ eventId }], parentClosePolicy: ParentClosePolicy.ABANDON });
    } catch (err) {
      // The API's sweeper got there first: the event is being delivered all the same.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };

  const complete = async (authMethod: string) => {
    const before = snapshot.status;
    setStatus('processing');
    let settled;
    try {
      settled = await settlePayment({ paymentId, authMethod });
    } catch (err) {
      // Refused at capture (the funds went elsewhere since the check, a limit, the wallet suspended):
      // nothing moved, and the payer may try again (after a top-up) while the window lasts.
      if (patched(PAYMENT_V2)) setStatus(before);
      throw err;
    }
    snapshot.txnId = settled.txnId;
    snapshot.completedAt = settled.completedAt;
    snapshot.challenge = undefined;
    setStatus('completed');
    await deliver(settled.webhookEventId);
    announce(paymentEventContent(input, { status: 'completed', txnId: settled.txnId, at: settled.completedAt }));
  };

  const fail = async (code: string, message: string) => {
    const closed = await closePayment({ paymentId, status: 'failed', code, message });
    snapshot.failureCode = code;
    setStatus('failed');
    await deliver(closed.webhookEventId);
    announce(paymentEventContent(input, { status: 'failed', code, at: new Date(workflowNow()).toISOString() }));
  };

  /** Cancelled by its payer or merchant before it was authorized (v3): nothing moved; the app hears of it by webhook, the room by event. */
  const cancel = async (req: CancelRequest) => {
    const closed = await closePayment({ paymentId, status: 'cancelled', code: req.by === 'payer' ? 'CANCELLED_BY_PAYER' : 'CANCELLED_BY_MERCHANT', message: req.reason ?? `Cancelled by the ${req.by}` });
    snapshot.challenge = undefined;
    setStatus(closed.status);
    await deliver(closed.webhookEventId);
    if (closed.status === 'cancelled') announce(paymentEventContent(input, { status: 'cancelled', by: req.by, at: new Date(workflowNow()).toISOString() }));
  };

  const newChallenge = (methods: MfaMethod[]) => {
    const expiresAt = Math.min(workflowNow() + input.mfaChallengeMs, windowEndsAt);
    snapshot.challenge = {
      challengeId: `${ID_PREFIX.mfaChallenge}_${uuid4().replace(/-/g, '')}`,
      methods,
      expiresAt: new Date(expiresAt).toISOString(),
      maxAttempts: input.mfaMaxAttempts,
      attempts: snapshot.challenge?.attempts ?? 0,
    };
  };

  setHandler(paymentState, () => ({ ...snapshot }));

  setHandler(
    authorizePayment,
    (req) =>
      gate.run(async () => {
        authorizations += 1;
        await verifyPaymentAuthorization({
          paymentId,
          userId: req.userId,
          amountMinor: input.amountMinor,
          currency: input.currency,
          signature: req.signature,
          deviceId: req.deviceId,
          timestamp: req.timestamp,
          attemptKey: `${paymentId}#authorize${authorizations}`,
        });
        const assessment = await assessPayment({ paymentId, deviceId: req.deviceId });
        if (assessment.mfaRequired) {
          await markPaymentMfaRequired({ paymentId });
          newChallenge(assessment.methods);
          setStatus('mfa_required');
          return { ...snapshot };
        }
        await complete('biometric');
        return { ...snapshot };
      }),
    { validator: (req) => checkCaller(req.userId, 'pending_authorization') },
  );

  setHandler(
    issueMfaChallenge,
    async () => {
      newChallenge(snapshot.challenge?.methods ?? []);
      return { ...snapshot };
    },
    { validator: (req) => checkCaller(req.userId, 'mfa_required') },
  );

  setHandler(
    verifyMfa,
    (req) =>
      gate.run(async () => {
        answers += 1;
        const challenge = snapshot.challenge!;
        try {
          await verifyPaymentMfa({ paymentId, userId: req.userId, challengeId: req.challengeId, proof: req.proof, attemptKey: `${paymentId}#mfa${answers}` });
        } catch (err) {
          const failure = domainFailure(err);
          if (failure?.type === 'MFA_LOCKED') {
            await fail('MFA_LOCKED', 'The payer is locked out of this method');
            throw failure;
          }
          if (!failure?.type || !WRONG_ANSWERS.has(failure.type)) throw err;
          challenge.attempts += 1;
          const remaining = challenge.maxAttempts - challenge.attempts;
          if (remaining <= 0) {
            await fail('MFA_LOCKED', 'Too many wrong answers to the challenge');
            refuse('MFA_LOCKED', 'Too many wrong answers: the payment has failed', { payment_id: paymentId, attempts_remaining: 0 });
          }
          refuse(failure.type, failure.message, { payment_id: paymentId, challenge_id: challenge.challengeId, attempts_remaining: remaining, retry_allowed: true });
        }
        await complete(MFA_METHODS[req.method]);
        return { ...snapshot };
      }),
    {
      validator: (req) => {
        checkCaller(req.userId, 'mfa_required');
        const challenge = snapshot.challenge;
        if (!challenge || challenge.challengeId !== req.challengeId) refuse('INVALID_REQUEST', 'challenge_id is not the current challenge', { field: 'challenge_id' });
        if (workflowNow() >= Date.parse(challenge.expiresAt)) refuse('INVALID_REQUEST', 'The challenge has expired; request a new one', { field: 'challenge_id' });
        if (!challenge.methods.includes(req.method)) refuse('INVALID_REQUEST', `method must be one of ${challenge.methods.join(', ')}`, { field: 'method' });
      },
    },
  );

  setHandler(
    cancelPayment,
    (req) =>
      gate.run(async () => {
        await cancel(req);
        return { ...snapshot };
      }),
    {
      validator: (req) => {
        if (req.id !== (req.by === 'payer' ? input.payer.userId : input.clientId)) refuse('NOT_FOUND', 'Payment not found', { payment_id: paymentId });
        if (PAYMENT_CANCELLABLE_STATES.includes(snapshot.status) && workflowNow() >= windowEndsAt) refuse('INVALID_STATE', 'The payment has expired', { payment_id: paymentId, status: 'expired' });
        if (!PAYMENT_CANCELLABLE_STATES.includes(snapshot.status)) refuse('INVALID_STATE', `The payment is ${snapshot.status}: only one not yet authorized can be cancelled`, { payment_id: paymentId, status: snapshot.status });
        if (gate.busy) refuse('INVALID_STATE', 'Another request for this payment is in progress', { payment_id: paymentId });
      },
    },
  );

  // Until the payment ends, or its window does; a request in progress at that moment finishes first.
  if (!(await condition(ended, Math.max(0, windowEndsAt - workflowNow())))) {
    await condition(() => !gate.busy);
    if (!ended()) {
      const closed = await closePayment({ paymentId, status: 'expired', code: 'EXPIRED', message: 'The payment was not authorized in time' });
      snapshot.challenge = undefined;
      // What PostgreSQL has: a capture that committed before a worker crash stays completed.
      setStatus(closed.status);
    }
  }
  await Promise.all(sends);
  await condition(allHandlersFinished);
  return { ...snapshot };
}
