import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics';

/** A free loopback port for the SDK's own Prometheus exporter, which only this process reads. */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * The worker's one port: `GET /metrics` is this process's registry (activities, sagas, ledger,
 * Matrix, webhooks) followed by the Temporal SDK's own metrics (read from its exporter on
 * `sdkMetricsUrl`); `GET /health` is 200 while the worker runs and 503 otherwise, for a probe.
 */
export async function startWorkerEndpoint(options: { host: string; port: number; sdkMetricsUrl: string; running: () => boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/health') {
        const up = options.running();
        res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: up ? 'ok' : 'unavailable' }));
        return;
      }
      if (req.method === 'GET' && req.url === '/metrics') {
        const ours = await registry.metrics();
        const sdk = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(5_000) }).then(
          (r) => r.text(),
          () => '# the Temporal SDK exporter did not answer\n',
        );
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(`${ours}\n${sdk}`);
        return;
      }
      res.writeHead(404).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}
