import http from 'node:http';

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpClient {
  request(method: 'GET' | 'POST' | 'PUT', path: string, options?: { token?: string; json?: unknown; form?: Record<string, string> }): Promise<HttpAnswer>;
  /** request() that expects JSON back and throws with the body unless the status is one of `ok`. */
  json(method: 'GET' | 'POST' | 'PUT', path: string, ok: number[], options?: { token?: string; json?: unknown }): Promise<any>;
  close(): void;
}

/** A request that takes longer than this fails as an error instead of holding its client forever. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Keep-alive HTTP/1.1 on loopback with node:http: one socket per concurrent caller (up to
 * `connections`), reused across requests, and less client CPU per request than fetch.
 */
export function httpClient(baseUrl: string, connections: number): HttpClient {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

  const request: HttpClient['request'] = (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const payload = options.form ? new URLSearchParams(options.form).toString() : options.json === undefined ? undefined : JSON.stringify(options.json);
      const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (payload !== undefined) {
        headers['content-type'] = options.form ? 'application/x-www-form-urlencoded' : 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(payload);
    });

  return {
    request,
    async json(method, path, ok, options) {
      const answer = await request(method, path, options);
      if (!ok.includes(answer.status)) throw new Error(`${method} ${path} answered ${answer.status}: ${answer.body.slice(0, 500)}`);
      return JSON.parse(answer.body);
    },
    close: () => agent.destroy(),
  };
}
