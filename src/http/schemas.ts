import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { isSnapshot } from '../domain/ledger';
import { parseAmount, parseCurrency, type Currency as CurrencyCode } from '../domain/money';
import { isScope } from '../domain/scopes';

/** Matrix user id grammar (spec: "User Identifiers"), lenient on historical localparts. */
export const MatrixUserId = z
  .string()
  .max(255)
  .regex(/^@[\x21-\x39\x3b-\x7e]+:[A-Za-z0-9.-]+(:\d{1,5})?$|^@[\x21-\x39\x3b-\x7e]+:\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/, 'must be a Matrix user id like @alice:example.org');

/** `!opaque:server`, or from room version 12 on `!` and the room's hash with no server part. */
export const RoomId = z.string().max(255).regex(/^![^:\s]+(:[^\s]+)?$/, 'must be a Matrix room id like !abc:example.org');

export const IdempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const Currency = z.string().transform((value, ctx): CurrencyCode => {
  try {
    return parseCurrency(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof DomainError ? String(err.details?.reason) : 'invalid currency' });
    return z.NEVER;
  }
});

/**
 * `{amount, currency}` to exact minor units: the amount is checked against the currency's
 * precision, so the two fields are validated together.
 */
export function withMoney<T extends z.ZodRawShape>(shape: T) {
  return z
    .object({ ...shape, amount: z.union([z.number(), z.string()]), currency: z.string() })
    .strict()
    .transform((value, ctx) => {
      try {
        const currency = parseCurrency(value.currency);
        return { ...value, currency, amount: parseAmount(value.amount, currency) };
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        ctx.addIssue({ code: 'custom', path: [String(err.details?.field ?? 'amount')], message: String(err.details?.reason ?? err.message) });
        return z.NEVER;
      }
    });
}

/**
 * A whole number from `min` to `max`. Every number a request carries is bounded here, at the edge,
 * so none reaches PostgreSQL out of its column's range (a 500 for what is bad input).
 */
export const WholeNumber = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ invalid_type_error: message }).int(message).min(min, message).max(max, message);
};
/** The same, from a query string or path (text to number). */
export const WholeNumberText = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ invalid_type_error: message }).int(message).min(min, message).max(max, message);
};

/** Unix seconds as clients send them (PROTO 10.3.5 `client_timestamp`): before the year 10000. */
export const UnixSeconds = WholeNumber(0, 253_402_300_799);

export const Pagination = z
  .object({
    limit: WholeNumberText(1, 100).default(50),
    offset: WholeNumberText(0, 1_000_000).default(0),
  })
  .passthrough();

export const Timestamp = z
  .string()
  .max(64)
  .regex(/^[\x21-\x7e]+$/, 'must be an ISO 8601 timestamp')
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 timestamp');
export const DeviceId = z.string().min(1).max(128);

/** PROTO 7.2.4 auth_proof, for payments and for changes of the user's factors: one shape per method. */
export const AuthProof = z.discriminatedUnion('method', [
  z.object({
    method: z.literal('biometric'),
    proof: z.object({ signature: z.string().min(1).max(1024).regex(/^[A-Za-z0-9+/=_-]+$/, 'must be base64'), device_id: DeviceId, timestamp: Timestamp }).strict(),
  }).strict(),
  z.object({
    method: z.literal('pin'),
    proof: z.object({ hashed_pin: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the hex SHA-256 of the PIN'), device_id: DeviceId.optional() }).strict(),
  }).strict(),
  z.object({
    method: z.literal('otp'),
    proof: z.object({ otp_code: z.string().regex(/^\d{6}$/, 'must be 6 digits'), timestamp: Timestamp.optional() }).strict(),
  }).strict(),
]);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http on a loopback host (RFC 8252 7.3, for development); no fragment (RFC 6749 3.1.2). */
export function clientUrl(what: string) {
  return z
    .string()
    .max(2048)
    .refine((value) => {
      if (!URL.canParse(value)) return false;
      const url = new URL(value);
      return url.hash === '' && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)));
    }, `must be an absolute https URL without a fragment (http only on localhost) for ${what}`);
}

export const Base64Signature = z.string().min(1).max(1024).regex(/^[A-Za-z0-9+/=_-]+$/, 'must be base64');

/** `pagination.snapshot` handed back for the next page of a history: as the earlier page gave it. */
export const Snapshot = z.string().max(24_000).refine(isSnapshot, 'must be the pagination.snapshot of an earlier page');

/** A mini-app registration's scopes (the registry's: operators' and developers' alike), each one known, no repeats. */
export const RegistryScope = z.string().refine(isScope, (value) => ({ message: `unknown scope '${value}'` }));
export const RegistryScopes = z.array(RegistryScope).min(1).max(50).transform((list) => [...new Set(list)]);
export const RedirectUris = z.array(clientUrl('a redirect URI')).max(10);
