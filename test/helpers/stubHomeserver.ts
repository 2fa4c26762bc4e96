import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface SentEvent {
  roomId: string;
  type: string;
  txnId: string;
  userId: string | null;
  authorization: string | undefined;
  content: Record<string, unknown>;
  at: number;
}

/** What the stub answers to one send: a status and body, or `hold` to never answer (a homeserver that hangs). */
export type Reply = { status: number; body?: Record<string, unknown> } | 'hold';

/**
 * A stand-in homeserver for the client-server send endpoint, for unit-testing the send activity's
 * retries. Like Synapse it deduplicates by (sender, txnId): a repeated txnId gets the first
 * event id and stores nothing new. The real Synapse is tested in the Application Service suite.
 */
export async function startStubHomeserver() {
  const requests: SentEvent[] = [];
  const stored = new Map<string, { eventId: string; event: SentEvent }>();
  const script: Reply[] = [];
  const held: ServerResponse[] = [];
  let counter = 0;
  let onRequest: ((e: SentEvent) => void) | undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const match = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'PUT' || !match) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode: 'M_UNRECOGNIZED', error: 'stub' }));
        return;
      }
      const event: SentEvent = {
        roomId: decodeURIComponent(match[1]!),
        type: decodeURIComponent(match[2]!),
        txnId: decodeURIComponent(match[3]!),
        userId: url.searchParams.get('user_id'),
        authorization: req.headers.authorization,
        content: JSON.parse(raw) as Record<string, unknown>,
        at: Date.now(),
      };
      requests.push(event);
      onRequest?.(event);
      const reply = script.shift() ?? { status: 200 };
      if (reply === 'hold') {
        held.push(res);
        return;
      }
      if (reply.status !== 200) {
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body ?? { errcode: 'M_UNKNOWN', error: 'stub failure' }));
        return;
      }
      const key = `${event.userId}|${event.txnId}`;
      let entry = stored.get(key);
      if (!entry) {
        counter += 1;
        entry = { eventId: `$stub${counter}:stub.test`, event };
        stored.set(key, entry);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ event_id: entry.eventId }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    url,
    /** Every request, including retries and failures. */
    requests,
    /** Events the stub stored, one per (sender, txnId). */
    events: () => [...stored.values()].map((e) => ({ ...e.event, eventId: e.eventId })),
    /** Queues replies for the next requests (afterwards: 200). */
    reply: (...replies: Reply[]) => void script.push(...replies),
    /** Resolves at the next request. */
    nextRequest: () => new Promise<SentEvent>((resolve) => (onRequest = (e) => ((onRequest = undefined), resolve(e)))),
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type StubHomeserver = Awaited<ReturnType<typeof startStubHomeserver>>;
