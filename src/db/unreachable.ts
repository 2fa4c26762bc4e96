/** Socket errors of a server that is not there (yet): refused, reset, timed out, or a name not resolved yet. */
export const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server that is going away or not ready: class 08 (connection exception),
 * 57P01-57P03 (terminated by an administrator, crashed, still starting up).
 */
const unavailableState = (code: string) => code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code);

/**
 * Whether an error of the pg driver means PostgreSQL could not be reached or dropped the session,
 * so the same work may succeed once it is back; a refused password or a missing database is not.
 */
export function databaseUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (code !== undefined && (NETWORK_ERRORS.has(code) || unavailableState(code))) return true;
  // The driver's own words for a session the server closed (it gives them no code).
  if (code === undefined && /^Connection terminated/.test(err.message)) return true;
  return err.cause !== undefined && err.cause !== err && databaseUnreachable(err.cause);
}
