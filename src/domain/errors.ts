/**
 * The one catalogue of domain errors. HTTP, OAuth, Matrix and workflow code all map these codes
 * through their own face (see ARCHITECTURE.md, "Errors"); nothing else invents status codes.
 */
export const Errors = {
  INVALID_REQUEST: { status: 400, retryable: false },
  INVALID_TOKEN: { status: 401, retryable: false },
  INSUFFICIENT_PERMISSIONS: { status: 403, retryable: false },
  INSUFFICIENT_FUNDS: { status: 402, retryable: false },
  PAYMENT_FAILED: { status: 400, retryable: true },
  RATE_LIMIT_EXCEEDED: { status: 429, retryable: true },
  /** Suspended for repeated rate-limit violations (PROTO 11.4.5) until `suspended_until`. */
  ACCOUNT_SUSPENDED: { status: 403, retryable: false },
  MINIAPP_NOT_FOUND: { status: 404, retryable: false },
  INVALID_SIGNATURE: { status: 401, retryable: false },
  DUPLICATE_TRANSACTION: { status: 409, retryable: false },
  MFA_REQUIRED: { status: 402, retryable: false },
  MFA_LOCKED: { status: 429, retryable: false },
  INVALID_MFA_CREDENTIALS: { status: 401, retryable: true },
  DEVICE_NOT_REGISTERED: { status: 400, retryable: false },
  NO_WALLET: { status: 404, retryable: false },
  WALLET_SUSPENDED: { status: 403, retryable: false },
  RECIPIENT_NO_WALLET: { status: 400, retryable: false },
  RECIPIENT_ACCEPTANCE_REQUIRED: { status: 400, retryable: false },
  P2P_SEND_NOT_ALLOWED: { status: 403, retryable: false },
  WITHDRAWAL_NOT_ALLOWED: { status: 403, retryable: false },
  AMOUNT_EXCEEDS_LIMIT: { status: 400, retryable: false },
  DAILY_LIMIT_EXCEEDED: { status: 429, retryable: false },
  MONTHLY_LIMIT_EXCEEDED: { status: 429, retryable: false },
  CURRENCY_MISMATCH: { status: 400, retryable: false },
  TRANSFER_EXPIRED: { status: 400, retryable: false },
  TRANSFER_NOT_FOUND: { status: 404, retryable: false },
  INVALID_STATE: { status: 409, retryable: false },
  GIFT_EXPIRED: { status: 400, retryable: false },
  GIFT_EMPTY: { status: 409, retryable: false },
  ALREADY_OPENED: { status: 409, retryable: false },
  STORAGE_QUOTA_EXCEEDED: { status: 413, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  KEY_EXISTS: { status: 409, retryable: false },
  PRECONDITION_FAILED: { status: 412, retryable: false },
  CONSENT_REQUIRED: { status: 403, retryable: false },
  INVALID_SCOPE: { status: 400, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  /** No such endpoint (Matrix M_UNRECOGNIZED). */
  UNRECOGNIZED: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  SERVICE_UNAVAILABLE: { status: 503, retryable: true },
  INTERNAL_ERROR: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof Errors;

export type ErrorDetails = Record<string, unknown>;

export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    /** Where PROTO prints the details beside `code` and `message` too (e.g. RECIPIENT_NO_WALLET, 6.3.5). */
    readonly inline = false,
  ) {
    super(message);
  }

  get status(): number {
    return Errors[this.code].status;
  }

  get retryable(): boolean {
    return Errors[this.code].retryable;
  }
}

/**
 * OAuth's error codes (RFC 6749 5.2, RFC 8628 3.5, RFC 8693 2.2.2), in the same catalogue: each
 * with its status, fixed here. `wire` is what the body says when it differs from the key: a
 * subject token that is not valid is RFC 8693's invalid_grant, answered 401 like a bad bearer.
 */
export const OAuthErrors = {
  invalid_request: { status: 400 },
  invalid_client: { status: 401 },
  invalid_grant: { status: 400 },
  invalid_subject_token: { status: 401, wire: 'invalid_grant' },
  invalid_scope: { status: 400 },
  unsupported_grant_type: { status: 400 },
  access_denied: { status: 400 },
  authorization_pending: { status: 400 },
  slow_down: { status: 400 },
  expired_token: { status: 400 },
  consent_required: { status: 403 },
  /** PROTO 4.4.3: a Matrix user no operator enrolled as a developer. */
  developer_not_whitelisted: { status: 403 },
  temporarily_unavailable: { status: 503 },
} as const satisfies Record<string, { status: number; wire?: string }>;

export type OAuthErrorCode = keyof typeof OAuthErrors;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(Errors, value);
}

/** Bad input: one field, one reason. The message names both so a client developer can fix the call. */
export function invalidField(field: string, reason: string): DomainError {
  return new DomainError('INVALID_REQUEST', `${field}: ${reason}`, { field, reason });
}
