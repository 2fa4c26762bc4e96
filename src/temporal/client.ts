import { Client, Connection } from '@temporalio/client';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
}

export interface Temporal {
  client: Client;
  taskQueue: string;
  /** True when the frontend answers a health check within the timeout. */
  isReachable(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The API's handle on Temporal. The connection is lazy so the API starts (and reports Temporal as
 * unreachable on /health) while the Temporal server is still coming up.
 */
export function createTemporal(settings: TemporalSettings): Temporal {
  const connection = Connection.lazy({ address: settings.address });
  const client = new Client({ connection, namespace: settings.namespace });
  return {
    client,
    taskQueue: settings.taskQueue,
    async isReachable(timeoutMs = 2000) {
      try {
        await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
        return true;
      } catch {
        return false;
      }
    },
    close: () => connection.close(),
  };
}
