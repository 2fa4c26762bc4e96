import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry tracing, off by default and on with the standard variables: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_EXPORTER_OTLP_PROTOCOL`,
 * `OTEL_SERVICE_NAME` and the rest as the SDK reads them), unless `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. One trace runs from the HTTP request (http instrumentation; the
 * route template names the span) through the Temporal client, the workflow and its activities
 * (@temporalio/interceptors-opentelemetry) to PostgreSQL (pg instrumentation) and the homeserver
 * (an outgoing HTTP call).
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let started: NodeSDK | undefined;

/** Starts the SDK once for this process (before the modules it patches load: the entry points import this first). */
export function startTracing(defaultServiceName: string): void {
  if (started || !tracingEnabled()) return;
  process.env.OTEL_SERVICE_NAME ??= defaultServiceName;
  started = new NodeSDK({ instrumentations: [new HttpInstrumentation(), new PgInstrumentation()] });
  started.start();
}

export async function stopTracing(): Promise<void> {
  await started?.shutdown();
}

/** Where the worker's workflow spans go (they are made inside the workflow sandbox and handed out through a sink). */
export function workflowSpanProcessor(): { processor: BatchSpanProcessor; resource: Resource } {
  return {
    processor: new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 }),
    resource: new Resource({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'tmcp-worker' }),
  };
}

/** The active span's trace id, for log lines (none outside a trace). */
export function currentTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && trace.isSpanContextValid(context) ? context.traceId : undefined;
}

/** Names the active HTTP server span after the route template (`POST /api/v1/wallet/p2p/:transfer_id/confirm`). */
export function nameRequestSpan(method: string, route: string): void {
  const span = trace.getActiveSpan();
  span?.updateName(`${method} ${route}`);
  span?.setAttribute('http.route', route);
}
