/** What the server needs to act on the homeserver as an Application Service. */
export interface MatrixSettings {
  homeserverUrl: string;
  asToken: string;
  serverName: string;
}

/** The bot that sends payment events (PROTO 4.17); an AS can only send as users in its namespace. */
export function paymentsBot(serverName: string): string {
  return `@_tmcp_payments:${serverName}`;
}

/** A homeserver call that did not succeed. `retryable` for network errors, 5xx and 429. */
export class MatrixRequestError extends Error {
  override readonly name = 'MatrixRequestError';

  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly errcode?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

async function errorFrom(res: Response): Promise<MatrixRequestError> {
  let body: { errcode?: unknown; error?: unknown; retry_after_ms?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not a Matrix error body
  }
  const errcode = typeof body.errcode === 'string' ? body.errcode : undefined;
  const text = typeof body.error === 'string' ? body.error : res.statusText;
  let retryAfterMs = typeof body.retry_after_ms === 'number' ? body.retry_after_ms : undefined;
  const header = res.headers.get('retry-after');
  if (retryAfterMs === undefined && header && /^\d+$/.test(header)) retryAfterMs = Number(header) * 1000;
  const retryable = res.status === 429 || res.status >= 500;
  return new MatrixRequestError(`homeserver answered ${res.status}${errcode ? ` ${errcode}` : ''}: ${text}`, retryable, res.status, errcode, retryAfterMs);
}

/**
 * `PUT /_matrix/client/v3/rooms/{roomId}/send/{type}/{txnId}?user_id=...` with the as_token. The
 * homeserver deduplicates by (sender, txnId), so sending the same txnId again is safe.
 */
export async function sendRoomEvent(
  settings: MatrixSettings,
  event: { roomId: string; type: string; content: Record<string, unknown>; txnId: string; asUser: string },
): Promise<{ eventId: string }> {
  const path = ['rooms', event.roomId, 'send', event.type, event.txnId].map(encodeURIComponent).join('/');
  const url = `${settings.homeserverUrl}/_matrix/client/v3/${path}?user_id=${encodeURIComponent(event.asUser)}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${settings.asToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(event.content),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new MatrixRequestError(`homeserver unreachable: ${err instanceof Error ? err.message : String(err)}`, true);
  }
  if (!res.ok) throw await errorFrom(res);
  const body = (await res.json()) as { event_id?: unknown };
  if (typeof body.event_id !== 'string') throw new MatrixRequestError('homeserver answered without event_id', true, res.status);
  return { eventId: body.event_id };
}
