import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Redaction is a second line of defence: code never logs request bodies,
 * headers or tokens on purpose, and these paths blank them if an object carrying one slips through.
 */
const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'as_token',
  '*.as_token',
  'hs_token',
  '*.hs_token',
  'pin',
  '*.pin',
  'hashed_pin',
  '*.hashed_pin',
  'secret',
  '*.secret',
  'private_key',
  '*.private_key',
];

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
