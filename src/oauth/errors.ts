/**
 * An OAuth error (RFC 6749 5.2, RFC 8693 2.2.2): answered as `{error, error_description, ...}`
 * rather than in PROTO's error format, because OAuth client libraries read this shape.
 */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
    readonly extra: Record<string, unknown> = {},
    /** Seconds for Retry-After (a checker that is down). */
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
  }

  get body() {
    return { error: this.error, error_description: this.description, ...this.extra };
  }
}
