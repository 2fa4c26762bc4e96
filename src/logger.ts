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

/**
 * Writes to stdout asynchronously: a synchronous write per line blocks the event loop on a slow
 * terminal or pipe, and under load lines written while one write is in flight go out together.
 * pino flushes what is buffered when the process exits.
 */
export function createLogger(level: string, name: string): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { service: name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 1, sync: false }),
  );
}
