import { createServer } from 'node:http';

export interface ReceivedWebhook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

/** A mini-app backend's webhook endpoint: records what arrives and answers the scripted statuses (then 200, or answerOtherwise's). */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const script: (number | { status: number; headers: Record<string, string> })[] = [];
  let otherwise = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body, at: Date.now() });
      const next = script.shift() ?? otherwise;
      if (typeof next === 'number') res.writeHead(next).end();
      else res.writeHead(next.status, next.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/tmcp`,
    received,
    /** Statuses (with headers, if given) for the next deliveries. */
    answer: (...statuses: (number | { status: number; headers: Record<string, string> })[]) => void script.push(...statuses),
    /** The status once the script is used up (200 unless set). */
    answerOtherwise: (status: number) => void (otherwise = status),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
