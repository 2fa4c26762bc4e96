import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client). One registry per process: the API serves it at
 * GET /metrics (summed over its processes when API_PROCESSES > 1), the worker on WORKER_METRICS_PORT
 * together with the Temporal SDK's own metrics. A counter counts where its event happens: ledger
 * entries in whichever process posts them (the worker for sagas, the API for operator funding).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const registers = [registry];

export const httpRequests = new Counter({ name: 'tmcp_http_requests_total', help: 'HTTP requests answered, by route template and status', labelNames: ['method', 'route', 'status'], registers });
export const httpDuration = new Histogram({
  name: 'tmcp_http_request_duration_seconds',
  help: 'HTTP request latency, by route template and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
});
export const sagaStarts = new Counter({ name: 'tmcp_saga_starts_total', help: 'Sagas (workflows) started by this process, by workflow type', labelNames: ['workflow'], registers });
export const sagaOutcomes = new Counter({ name: 'tmcp_saga_outcomes_total', help: 'Sagas that ended on this worker, by workflow type and final status', labelNames: ['workflow', 'status'], registers });
export const ledgerEntries = new Counter({ name: 'tmcp_ledger_entries_total', help: 'Journal entries posted, by kind and currency', labelNames: ['kind', 'currency'], registers });
export const ledgerAmount = new Counter({
  name: 'tmcp_ledger_amount_minor_total',
  help: 'Money moved by journal entries (the sum of their credits, minor units), by kind and currency',
  labelNames: ['kind', 'currency'],
  registers,
});
export const rateLimitRejections = new Counter({ name: 'tmcp_rate_limit_rejections_total', help: 'Requests refused by a rate limit (429), by category', labelNames: ['category'], registers });
export const matrixSends = new Counter({ name: 'tmcp_matrix_sends_total', help: 'Room events sent as the payments bot, by result', labelNames: ['result'], registers });
export const webhookDeliveries = new Counter({ name: 'tmcp_webhook_deliveries_total', help: 'Webhook delivery attempts, by result', labelNames: ['result'], registers });
export const breakerState = new Gauge({
  name: 'tmcp_breaker_state',
  help: 'State of a circuit breaker: 0 closed, 1 half open, 2 open (matrix_tokens: the homeserver or MAS checking Matrix tokens)',
  labelNames: ['breaker'],
  registers,
});
export const BREAKER_STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;
export const activityRuns = new Counter({ name: 'tmcp_activities_total', help: 'Activity executions on this worker, by activity type and result', labelNames: ['activity', 'result'], registers });
