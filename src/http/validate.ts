import type { z } from 'zod';
import { DomainError } from '../domain/errors';

/**
 * Parses input with a zod schema. Failure is a 400 INVALID_REQUEST whose message and details name
 * each bad field and why; the first problem leads the message.
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, where = 'body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    const at = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: `${at}${key}`, reason: 'is not a known field' }));
    return [{ field: issue.path.length > 0 ? issue.path.join('.') : where, reason: issue.message }];
  });
  const [first] = errors;
  throw new DomainError('INVALID_REQUEST', errors.map((e) => `${e.field}: ${e.reason}`).join('; '), {
    field: first?.field,
    reason: first?.reason,
    errors,
  });
}
