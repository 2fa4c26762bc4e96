import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { DomainError, isErrorCode } from '../domain/errors';

/**
 * The domain error a saga answered with: an Update whose validator or handler failed with an
 * ApplicationFailure of a catalogue code. Undefined for anything else (server unreachable, ...).
 */
export function domainErrorFromUpdate(err: unknown): DomainError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || !isErrorCode(cause.type)) return undefined;
  const [details] = cause.details ?? [];
  return new DomainError(cause.type, cause.message, typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : undefined);
}

/** True when the workflow has finished (or never existed), so it cannot take messages any more. */
export function isWorkflowGone(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}
