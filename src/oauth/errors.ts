import { OAuthErrors, type OAuthErrorCode } from '../domain/errors';

/**
 * An OAuth error (RFC 6749 5.2, RFC 8693 2.2.2): the OAuth face of the error catalogue, answered as
 * `{error, error_description, ...}` rather than in PROTO's error format, because OAuth client
 * libraries read this shape. Its status is the catalogue's (src/domain/errors.ts), never the caller's.
 */
export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly extra: Record<string, unknown> = {},
    /** Seconds for Retry-After (a checker that is down). */
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
  }

  /** The code on the wire. */
  get error(): string {
    const entry = OAuthErrors[this.code];
    return 'wire' in entry ? entry.wire : this.code;
  }

  get status(): number {
    return OAuthErrors[this.code].status;
  }

  get body() {
    return { error: this.error, error_description: this.description, ...this.extra };
  }
}
