import { ApplicationFailure } from '@temporalio/common';
import { DomainError } from '../src/domain/errors';

/**
 * Runs an activity body and turns a DomainError into an ApplicationFailure of that code, so the
 * workflow can branch on `failure.type`. Client errors (4xx) are final; retrying cannot fix them.
 * The type is set explicitly: the SDK would otherwise derive it from the class name.
 */
export async function domainFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    throw ApplicationFailure.create({
      type: err.code,
      message: err.message,
      details: err.details ? [err.details] : [],
      nonRetryable: err.status < 500,
    });
  }
}
