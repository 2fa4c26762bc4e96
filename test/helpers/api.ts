import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config';
import { issueTep } from '../../src/auth/tep';
import type { TepKeys } from '../../src/auth/keys';
import { accessChecks } from '../../src/auth/clients';
import { followAccessChanges } from '../../src/db/accessChanges';
import { bucketStore } from '../../src/abuse/buckets';
import { mountedRoutes } from '../../src/http/routeList';
import { createApp } from '../../src/http/app';
import { answerUnparsableRequests } from '../../src/http/middleware/errors';
import { syncMiniapps } from '../../src/runtime';
import { createTemporal, type Temporal } from '../../src/temporal/client';
import { testEnv } from '../setup/env';
import type { TestDatabase } from './db';
import { testKeys } from './keys';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';
/** DATA_ENCRYPTION_KEY of every test API and worker (32 bytes, hex). */
export const TEST_DATA_KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Raw request body, sent as is (for malformed JSON). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** What tests need of a running API: requests, and TEP tokens it accepts. */
export interface ApiClient {
  url: string;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  token(userId: string, scopes: string[], clientId?: string, walletId?: string | null): Promise<string>;
}

export interface TestApi extends ApiClient {
  config: Config;
  keys: TepKeys;
  temporal: Temporal;
  /** Every log line the API wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Every log line as written, for searching for secrets. */
  rawLogs: string[];
  /** Every mounted route, `METHOD /path` (mountedRoutes). */
  routes: string[];
  close(): Promise<void>;
}

/** A client of the API at `url`, minting TEP tokens with `keys` for `issuer` (its PUBLIC_URL). */
export function apiClient(url: string, keys: TepKeys, issuer: string): ApiClient {
  return {
    url,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON; keep the text
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async token(userId, scopes, clientId = 'ma_demo', walletId = null) {
      const issued = await issueTep(keys, { issuer, ttlSeconds: 600 }, { userId, clientId, scopes, walletId });
      return issued.token;
    },
  };
}

/**
 * The real Koa app on a real port, on the test file's own database and the shared Temporal server
 * (or the given one, such as a time-skipping test server's client).
 */
export async function startTestApi(db: TestDatabase, env: Record<string, string> = {}, options: { temporal?: Temporal; port?: number } = {}): Promise<TestApi> {
  const { file, keys } = await testKeys();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: testEnv('temporalAddress'),
    TEP_KEYS_FILE: file,
    ADMIN_TOKEN,
    DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
    PUBLIC_URL: 'http://tmcp.test',
    // Suites call as few users far faster than people do; the rate-limit tests set the real limits (1).
    RATE_LIMIT_SCALE: '1000',
    ...env,
  });
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  await syncMiniapps(config, db.pool, log);
  const temporal =
    options.temporal ??
    createTemporal({
      address: config.temporal.address!,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
    });
  const access = accessChecks(db.pool);
  const accessFeed = followAccessChanges(db.url, { onChange: access.changed, onReset: access.reset }, log);
  const buckets = bucketStore(db.pool, config.rateLimits.redisUrl);
  const app = createApp({ config, pool: db.pool, keys, temporal, log, access, buckets });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
    answerUnparsableRequests(s);
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    ...apiClient(url, keys, config.http.publicUrl),
    config,
    keys,
    temporal,
    logs,
    rawLogs,
    routes: mountedRoutes(app),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await accessFeed.close();
      await buckets.close();
      if (!options.temporal) await temporal.close();
    },
  };
}

/** A port nobody listens on right now, for an API whose PUBLIC_URL must be its real address (OAuth issuer checks). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}
