import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { registry } from './metrics';

const ASK = 'tmcp:metrics';
const ANSWER = 'tmcp:metrics-answer';
const ASK_TIMEOUT_MS = 5_000;

interface Answer {
  type: typeof ANSWER;
  id: string;
  text?: string;
  error?: string;
}

/**
 * With API_PROCESSES > 1 a scrape reaches one process, so that process asks the primary, which
 * gathers every process's registry (prom-client's cluster aggregator: counters summed, histograms
 * merged) and answers. The primary runs no HTTP server of its own.
 */
export function aggregateForWorkers(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: string }) => {
    const id = message?.type === ASK ? message.id : undefined;
    if (typeof id !== 'string') return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id, text } satisfies Answer),
      (err: unknown) => worker.send({ type: ANSWER, id, error: err instanceof Error ? err.message : String(err) } satisfies Answer),
    );
  });
}

/** Every process of the API answers the aggregator with this process's registry. */
export function shareWithPrimary(): void {
  AggregatorRegistry.setRegistries([registry]);
  // prom-client answers the primary's requests only once an aggregator exists in the process.
  new AggregatorRegistry();
}

/** The text a scrape gets: this process's metrics, or, in a cluster, those of all its processes. */
export async function metricsText(): Promise<string> {
  if (!cluster.isWorker || !process.send) return registry.metrics();
  const id = randomUUID();
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the primary did not gather the metrics in time'));
    }, ASK_TIMEOUT_MS);
    const onMessage = (message: Answer) => {
      if (message?.type !== ANSWER || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.text ?? '');
    };
    process.on('message', onMessage);
    process.send!({ type: ASK, id });
  });
}

export const METRICS_CONTENT_TYPE = registry.contentType;
