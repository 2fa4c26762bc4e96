import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, WithStartWorkflowOperation } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type SignalDefinition, type UpdateDefinition, type Workflow } from '@temporalio/common';
import type { Config } from '../config';
import { DomainError } from '../domain/errors';
import type { Logger } from '../logger';
import { onceById, type StartOptions, type Temporal } from './client';
import { domainErrorFromUpdate, isWorkflowGone } from './failures';

/**
 * The one way the API talks to a money flow's saga (P2P, payments, gifts): start it, or send it an
 * Update (starting it with the Update when it may not run yet), within the answer deadline, and
 * sort what comes back into the saga's answer, its refusal, or "finished" (the caller answers
 * from PostgreSQL, where every saga step writes). Anything else is 503 with Retry-After: the
 * worker or the database behind it is down, and the same call later gets the real outcome.
 */
export interface SagaCallDeps {
  temporal: Temporal;
  config: Pick<Config, 'sagaAnswerTimeoutMs'>;
  log: Logger;
}

/** What a 503 tells the client to wait before retrying. */
export const RETRY_AFTER_SECONDS = 5;

/** 503 SERVICE_UNAVAILABLE with Retry-After: the saga could not answer now; the same request later can. */
export function sagaUnavailable(message: string, details: Record<string, unknown>): DomainError {
  return new DomainError('SERVICE_UNAVAILABLE', message, { ...details, retry_after_seconds: RETRY_AFTER_SECONDS });
}

/** Temporal calls give up after SAGA_ANSWER_TIMEOUT_MS: a saga whose worker or database is down answers 503, not never. */
export function withAnswerDeadline<T>(deps: Pick<SagaCallDeps, 'temporal' | 'config'>, call: () => Promise<T>): Promise<T> {
  return deps.temporal.client.withDeadline(Date.now() + deps.config.sagaAnswerTimeoutMs, call);
}

/**
 * Wakes a saga that polls by itself (a provider callback for a top-up or a payout): a hint, never
 * needed for correctness. A saga that has finished ignores it; any other failure is logged, and the
 * saga asks at its next poll.
 */
export async function wakeSaga(deps: SagaCallDeps, workflowId: string, signal: SignalDefinition, fields: Record<string, unknown>): Promise<void> {
  try {
    await withAnswerDeadline(deps, () => deps.temporal.client.workflow.getHandle(workflowId).signal(signal));
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) deps.log.warn({ err, ...fields }, 'could not wake the saga; it asks at its next poll');
  }
}

/** A saga to start with an Update when it does not run yet. */
export interface SagaStart {
  workflowType: string;
  options: StartOptions<Workflow>;
}

/**
 * An Update's id, named after the call and the refusals answered so far (`failedCalls`): the same
 * call repeated after a timeout is the same Update, which Temporal answers with the first call's
 * outcome; repeated after a refusal the caller did receive (a top-up after INSUFFICIENT_FUNDS), it
 * is a new one, checked again. `digest` is keyed, so the id reveals nothing of the input (a proof).
 */
export function keyedUpdateId(digest: (text: string) => string, action: string, parts: unknown[], failedCalls?: number): string {
  return `${action}-${failedCalls === undefined ? '' : `${failedCalls}-`}${digest(JSON.stringify(parts))}`;
}

export type SagaOutcome<R> = { answer: R } | { refusal: DomainError } | { finished: true };

export interface SagaUpdate<R, A> {
  workflowId: string;
  update: UpdateDefinition<R, [A]>;
  arg: A;
  /** Omitted: each call is a new Update (an opening, which must not be answered as the first). */
  updateId?: string;
  /** Given: the Update starts the saga when it does not run yet (Update-with-Start). */
  start?: () => Promise<SagaStart> | SagaStart;
  /**
   * With `start`, when the saga has finished already: send the Update to it anyway, so a call
   * repeated after the end gets the first call's answer from Temporal. Otherwise it is "finished".
   */
  askFinished?: boolean;
  /** For the log line and the 503's details. */
  fields: Record<string, unknown>;
  /** The 503's message. */
  unavailable: string;
}

/** gRPC's UNAVAILABLE: the server could not take the call now (and says so for an aborted Update). */
const GRPC_UNAVAILABLE = 14;
/** gRPC's RESOURCE_EXHAUSTED: among others, a workflow's limit of Updates in flight at once (10 by default). */
const GRPC_RESOURCE_EXHAUSTED = 8;

const grpcCode = (err: unknown) => (err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause.code : undefined);

/**
 * Sends an Update again when the server could not take it, under the same id, until `deadlineAt`:
 * - it gives up on Updates in flight when it unloads a busy workflow (UNAVAILABLE, "workflow
 *   update was aborted"); asked again, it runs the Update or answers the outcome it had (3 tries);
 * - it refuses more than a few Updates in flight to one workflow (RESOURCE_EXHAUSTED): a burst of
 *   openers of one gift waits its turn, a few tens of milliseconds apart, jittered so they do not
 *   come back together.
 */
async function againIfBusy<R>(send: () => Promise<R>, deadlineAt: number): Promise<R> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send();
    } catch (err) {
      const code = grpcCode(err);
      const wait = code === GRPC_RESOURCE_EXHAUSTED ? 20 + Math.random() * 40 : 50 * attempt;
      const again = (code === GRPC_UNAVAILABLE && attempt < 3) || (code === GRPC_RESOURCE_EXHAUSTED && Date.now() + wait < deadlineAt);
      if (!again) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Sends one Update to a saga and sorts the outcome. Refusals come back as the saga's domain error;
 * a saga that has finished (no workflow to take the Update, or one the start may not run again)
 * comes back as `finished`, for the caller to answer from PostgreSQL; anything else is logged and
 * thrown as 503.
 */
export async function updateSaga<R, A>(deps: SagaCallDeps, call: SagaUpdate<R, A>): Promise<SagaOutcome<R>> {
  const handle = deps.temporal.client.workflow.getHandle(call.workflowId);
  // One id for every attempt of this call, so an attempt after an aborted one is the same Update.
  const options = { args: [call.arg] as [A], updateId: call.updateId ?? randomUUID() };
  const send = async (): Promise<R> => {
    if (call.start) {
      try {
        const { workflowType, options: start } = await call.start();
        const startWorkflowOperation = new WithStartWorkflowOperation(workflowType, onceById(deps.temporal, start));
        return await deps.temporal.client.workflow.executeUpdateWithStart(call.update, { ...options, startWorkflowOperation });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !call.askFinished) throw err;
      }
    }
    return handle.executeUpdate(call.update, options);
  };
  try {
    const deadlineAt = Date.now() + deps.config.sagaAnswerTimeoutMs;
    return { answer: await withAnswerDeadline(deps, () => againIfBusy(send, deadlineAt)) };
  } catch (err) {
    const refusal = domainErrorFromUpdate(err);
    if (refusal) return { refusal };
    if (isWorkflowGone(err) || err instanceof WorkflowExecutionAlreadyStartedError) return { finished: true };
    deps.log.error({ err, ...call.fields, update_id: call.updateId }, 'saga did not answer');
    throw sagaUnavailable(call.unavailable, call.fields);
  }
}
