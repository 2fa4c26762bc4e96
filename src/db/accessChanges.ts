import pg from 'pg';
import type { Logger } from '../logger';

/**
 * The channel revocations and registry changes are announced on (NOTIFY, sent by the statements
 * that make them, so only committed changes are heard). Payload: `session:<id>`, `client:<id>` or `suspension:<subject>`.
 */
export const ACCESS_CHANNEL = 'tmcp_access';

export interface AccessChange {
  /** A session revoked, a client's registry entry changed, a rate-limit subject suspended or lifted. */
  kind: 'session' | 'client' | 'suspension';
  id: string;
}

export interface AccessFeed {
  close(): Promise<void>;
}

/**
 * Listens for access changes on a connection of its own, so every API process forgets what it
 * cached about a session or client the moment another process revokes or suspends it. After a
 * (re)connection `onReset` is called: whatever was announced while it was away is unknown.
 */
export function followAccessChanges(url: string, handlers: { onChange(change: AccessChange): void; onReset(): void }, log: Logger): AccessFeed {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      const [kind, id] = (message.payload ?? '').split(/:(.*)/s);
      if ((kind === 'session' || kind === 'client' || kind === 'suspension') && id) handlers.onChange({ kind, id });
    });
    const lost = (err?: Error) => {
      if (closed || client !== next) return;
      client = undefined;
      handlers.onReset();
      log.warn({ err }, 'access change feed lost; reconnecting');
      next.end().catch(() => undefined);
      retry = setTimeout(() => void connect(), 1000);
    };
    next.on('error', lost);
    next.on('end', () => lost());
    client = next;
    try {
      await next.connect();
      await next.query(`LISTEN ${ACCESS_CHANNEL}`);
      handlers.onReset();
    } catch (err) {
      lost(err as Error);
    }
  };
  void connect();

  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
