import { isSpanContextValid, trace } from '@opentelemetry/api';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
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
      // One grep follows a transfer: the trace id of the request or activity, and in an activity its workflow.
      mixin: logContext,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** The trace id (when tracing is on) and, inside an activity, its workflow id and type. */
function logContext(): Record<string, string> {
  const fields: Record<string, string> = {};
  const span = trace.getActiveSpan()?.spanContext();
  if (span && isSpanContextValid(span)) fields.trace_id = span.traceId;
  // Read without throwing: this runs for every log line, and most are not in an activity.
  const info = activityContext.getStore()?.info;
  if (info?.workflowExecution) fields.workflow_id = info.workflowExecution.workflowId;
  if (info) fields.activity = info.activityType;
  return fields;
}
