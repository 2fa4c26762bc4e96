import { DomainError } from '../domain/errors';
import type { AuthMethod } from '../domain/p2p';

/** 429 MFA_LOCKED: the method is locked for this caller until `until`. */
export function locked(method: AuthMethod, until: Date, now: Date, reason?: string): DomainError {
  return new DomainError('MFA_LOCKED', `Too many failed ${method} attempts; try again later`, {
    method,
    ...(reason ? { reason } : {}),
    locked_until: until.toISOString(),
    retry_after_seconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)),
  });
}

