import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isCurrency, parseAmount, type Currency } from '../domain/money';
import { parseAmountsByCurrency, parseDuration, parseDurations, parseRateLimits, parseTrustProxy, type TrustProxy } from './parsers';
import type { RateCategory, RateLimit } from '../domain/rateLimits';
import { DomainError } from '../domain/errors';
import { parseDataKey } from '../crypto/sealing';
import type { LockoutPolicy } from '../domain/lockout';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const DEFAULT_DATA_DIR = '.data';
const PUBLISHED_TOKENS = new Set([
  '54280d605e23adf6bd5d66ee07a09196dbab0bd87d35f8ecc1fd70669f709502',
  '874542cda496ffd03f8fd283ad37d8837572aad0734e92225c5f7fffd8c91bd1',
]);
/** About 50 US dollars in each currency the ledger accepts, in minor units: a payment from this much asks for a second factor. */
const DEFAULT_PAYMENT_MFA_THRESHOLDS = 'USD:5000,EUR:5000,GBP:4000,NGN:7500000,KES:650000,GHS:75000,ZAR:90000,JPY:7500';
/** About 1,000 US dollars in each currency the ledger accepts, in minor units. */
const DEFAULT_ACCEPTANCE_THRESHOLDS = 'USD:100000,EUR:100000,GBP:100000,NGN:150000000,KES:13000000,GHS:1500000,ZAR:1800000,JPY:150000';
const decimalAmount = z.string().regex(/^\d+(\.\d+)?$/, 'a decimal amount such as 1000.00');
const url = z.string().url();

/**
 * Every environment variable the server reads, with what it expects. `.env.example` documents the
 * same list (a test keeps them in step), and docker-compose.yml may only set variables named here.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development').describe('development, production or test'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('a pino log level'),
  TMCP_DATA_DIR: z.string().default(DEFAULT_DATA_DIR).describe('folder for local state of the dev launcher'),

  HOST: z.string().default('127.0.0.1').describe('interface the API listens on'),
  PORT: port.default(3000).describe('API port, 1-65535'),
  METRICS_TOKEN: optionalString.describe('a bearer token GET /metrics requires (unset: the endpoint is open; keep it off the public network)'),
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional().describe("the worker's Prometheus port (its metrics and the Temporal SDK's, and /health); unset: none"),
  SHUTDOWN_DRAIN_SECONDS: z.coerce.number().int().min(0).max(300).default(0).describe("seconds an API process keeps serving after SIGTERM with /ready answering 503, so a load balancer stops sending to it before it closes"),
  WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt.max(3600).default(30).describe('seconds a stopping worker lets running activities finish before it cancels them'),
  API_PROCESSES: positiveInt.max(64).default(1).describe('API processes sharing the port (the API is stateless; one per core to spare)'),
  PUBLIC_URL: optionalString.pipe(url.optional()).describe('public base URL of the API; the TEP issuer'),
  TRUST_PROXY: z
    .string()
    .default('')
    .describe('proxies in front of the API whose X-Forwarded-For/-Proto are believed: a hop count (1) or addresses and CIDRs (10.0.0.0/8,loopback); empty: none'),

  DATABASE_URL: optionalString.pipe(url.optional()).describe('postgres:// connection URL'),
  DATABASE_POOL_SIZE: positiveInt.default(10).describe('maximum PostgreSQL connections per process'),
  DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on').describe('on: queries run as named prepared statements, planned once per connection; off for a pooler in transaction mode that cannot keep them (PgBouncer before 1.21)'),
  EMBEDDED_PG_PORT: port.default(54329).describe('port of the embedded PostgreSQL (npm start)'),

  TEMPORAL_ADDRESS: optionalString.describe('host:port of the Temporal frontend'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('tmcp').describe('task queue of the worker'),
  TEMPORAL_TLS: optionalString.pipe(z.enum(['true', 'false']).optional()).describe('true: reach Temporal over TLS with the system roots (implied by the TEMPORAL_TLS_* files and TEMPORAL_API_KEY)'),
  TEMPORAL_TLS_CERT: optionalString.describe("PEM file of this process's client certificate (mTLS), with TEMPORAL_TLS_KEY"),
  TEMPORAL_TLS_KEY: optionalString.describe('PEM file of the client certificate key (mTLS), with TEMPORAL_TLS_CERT'),
  TEMPORAL_TLS_CA: optionalString.describe("PEM file of the CA that signed the Temporal server's certificate (default: the system's roots)"),
  TEMPORAL_TLS_SERVER_NAME: optionalString.describe("the name the server's certificate is checked against, when not TEMPORAL_ADDRESS's host"),
  TEMPORAL_API_KEY: optionalString.describe('an API key (Temporal Cloud), sent as a bearer token over TLS'),
  TEMPORAL_CLI_PATH: optionalString.describe('path to the temporal CLI used for the embedded dev server'),
  TEMPORAL_DEV_PORT: port.default(7233).describe('gRPC port of the embedded Temporal dev server'),
  TEMPORAL_UI_PORT: port.default(8233).describe('Web UI port of the embedded Temporal dev server'),
  WORKFLOW_BUNDLE_PATH: optionalString.describe('prebuilt workflow bundle (npm run build) for production workers'),
  WORKFLOW_STACK_TRACES: z.enum(['on', 'off']).default('off').describe("on: the worker records where each running workflow waits, for the Web UI's Stack Trace tab (a stack trace per promise: about a quarter of the worker's CPU)"),

  TEP_KEYS_FILE: optionalString.describe('JSON Web Key Set with RS256 private keys; the first signs, all verify'),
  TEP_TOKEN_TTL_SECONDS: positiveInt.default(3600).describe('lifetime of a TEP access token in seconds'),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt.default(30 * 24 * 3600).describe('lifetime of a refresh token in seconds (each use gives a new one)'),

  ADMIN_TOKEN: optionalString.pipe(z.string().min(32, 'at least 32 characters').optional()).describe('bearer token for /api/v1/admin (32+ chars)'),
  DATA_ENCRYPTION_KEY: optionalString
    .refine((v) => v === undefined || parseDataKey(v) !== undefined, '32 bytes, as 64 hex characters or base64')
    .describe('key that seals secrets kept outside PostgreSQL, such as payment proofs in Temporal histories (32 bytes, hex or base64)'),
  MINIAPPS_FILE: optionalString.describe('YAML file of registered mini-apps'),

  WALLET_DEFAULT_CURRENCY: z.string().refine(isCurrency, 'a supported ISO 4217 code').default('USD').describe('currency of new wallets'),
  WALLET_TRANSACTION_LIMIT: decimalAmount.default('50000.00').describe('default per-transaction limit of a new wallet'),
  WALLET_DAILY_LIMIT: decimalAmount.default('100000.00').describe('default daily limit of a new wallet'),
  WALLET_MONTHLY_LIMIT: decimalAmount.default('1000000.00').describe('default monthly limit of a new wallet'),

  P2P_AUTHORIZATION_WINDOW_SECONDS: positiveInt.default(900).describe('seconds a P2P transfer waits for confirmation before it is cancelled'),
  P2P_ACCEPTANCE_WINDOW_SECONDS: positiveInt.default(86_400).describe('seconds a recipient has to accept before the transfer expires and is refunded'),
  P2P_ACCEPTANCE_THRESHOLD: z
    .string()
    .default(DEFAULT_ACCEPTANCE_THRESHOLDS)
    .describe('per currency, in minor units, the amount above which the recipient must accept a P2P transfer: CUR:minor,... (e.g. USD:100000,JPY:150000)'),
  P2P_MAX_AUTH_ATTEMPTS: positiveInt.default(3).describe('failed proofs after which a transfer ends as auth_failed'),
  P2P_MAX_PENDING_PER_SENDER: positiveInt.default(10).describe('transfers one sender may have waiting for authorization at once'),
  STORAGE_ENCRYPTION_KEYS: optionalString.describe('keys that encrypt mini-app storage values: <id>:<32-byte key, hex or base64>,... the first encrypts, all decrypt (default: one derived from DATA_ENCRYPTION_KEY)'),
  STORAGE_QUOTA_BYTES: positiveInt.default(10 * 1024 * 1024).describe('bytes of values one user may keep per mini-app'),
  STORAGE_MAX_KEYS: positiveInt.default(1000).describe('keys one user may keep per mini-app'),
  STORAGE_MAX_KEY_BYTES: positiveInt.max(1024).default(256).describe('longest key, in UTF-8 bytes'),
  STORAGE_MAX_VALUE_BYTES: positiveInt.default(1024 * 1024).describe('largest value, in UTF-8 bytes'),
  GIFT_MAX_COUNT: positiveInt.max(10_000).default(100).describe('most shares a group gift may have (also at most the other joined members of its room)'),
  GIFT_MAX_EXPIRES_SECONDS: positiveInt.default(7 * 86_400).describe('longest expires_in_seconds a gift may ask for'),
  WALLET_PROVIDERS: z
    .string()
    .default('')
    .describe('client ids of the registered mini-apps trusted as wallet providers at POST /api/v1/wallet/callback, comma-separated (their webhook secrets sign)'),
  WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: z
    .enum(['true', 'false'])
    .optional()
    .describe('whether webhooks may be sent to loopback, private and link-local addresses: true or false (default false in production, true otherwise)'),
  WEBHOOK_SECRET_OVERLAP_SECONDS: z.coerce.number().int().min(0).max(30 * 86_400).default(86_400).describe('seconds a rotated webhook secret keeps signing beside the new one'),
  PAYMENT_AUTHORIZATION_WINDOW_SECONDS: positiveInt.default(300).describe('seconds a mini-app payment waits for the payer to authorize it before it expires'),
  PAYMENT_MFA_THRESHOLD: z
    .string()
    .default(DEFAULT_PAYMENT_MFA_THRESHOLDS)
    .describe('per currency, in minor units, the amount from which a payment asks for a second factor: CUR:minor,... (e.g. USD:5000)'),
  PAYMENT_MFA_NEW_DEVICE_DAYS: z.coerce.number().int().min(0).max(365).default(7).describe('a payment authorized from a device registered fewer days ago than this asks for a second factor (0: never)'),
  PAYMENT_MFA_CHALLENGE_SECONDS: positiveInt.max(3600).default(120).describe('seconds an MFA challenge of a payment can be answered'),
  PAYMENT_MFA_MAX_ATTEMPTS: positiveInt.max(10).default(3).describe('wrong answers to an MFA challenge after which the payment fails'),
  MATRIX_EVENT_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(3000).describe('milliseconds confirm waits for the Matrix event before answering without event_id'),
  SAGA_ANSWER_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(120_000)
    .default(10_000)
    .describe('milliseconds the API waits for a saga (and the database behind it) before answering 503 SERVICE_UNAVAILABLE'),

  MFA_LOCKOUT_THRESHOLD: positiveInt.default(5).describe('failed proofs of one method in a row (per user) that lock it'),
  MFA_LOCKOUT_SCHEDULE: z
    .string()
    .default('15m,1h,24h')
    .describe('how long each successive lock lasts, comma-separated durations such as 15m,1h,24h (the last repeats)'),
  MFA_WALLET_LOCKOUT_THRESHOLD: positiveInt
    .default(50)
    .describe('failed proofs of one method across all mini-apps within MFA_WALLET_LOCKOUT_WINDOW that lock it for every app (PROTO 11.4.5)'),
  MFA_WALLET_LOCKOUT_WINDOW: z.string().default('24h').describe('the window of MFA_WALLET_LOCKOUT_THRESHOLD, and how long its lock lasts (a duration such as 24h)'),

  RATE_LIMITS: z
    .string()
    .default('')
    .describe("per category, a limit per window and a burst over PROTO 11.4.1's defaults: category=limit/window/burst,... (e.g. balance=600/1m/100; categories in docs/security.md)"),
  RATE_LIMIT_SCALE: z.coerce
    .number()
    .min(0)
    .max(1_000_000)
    .default(1)
    .describe('multiplies every rate limit and burst (load tests raise the limits with it); 0 turns the limiter off, which production refuses'),
  RATE_LIMIT_SUSPEND_AFTER: positiveInt.default(10).describe('rate-limit violations within RATE_LIMIT_SUSPEND_WINDOW that suspend the caller (PROTO 11.4.5)'),
  RATE_LIMIT_SUSPEND_WINDOW: z.string().default('1h').describe('the window of RATE_LIMIT_SUSPEND_AFTER (a duration such as 1h)'),
  RATE_LIMIT_SUSPEND_FOR: z.string().default('1h').describe('how long a suspension for rate-limit violations lasts (a duration such as 1h)'),
  REDIS_URL: optionalString.pipe(url.optional()).describe('redis:// URL: keep the rate-limit buckets in Redis instead of PostgreSQL'),

  TOPUP_PROVIDER: z
    .enum(['none', 'simulator', 'stripe'])
    .optional()
    .describe('the wallet provider of top-ups and withdrawals: stripe, simulator (development; the default outside production) or none (the default in production: no money in or out)'),
  PROVIDER_BY_CURRENCY: optionalString
    .pipe(z.string().regex(/^[A-Z]{3}=(none|simulator|stripe)(,[A-Z]{3}=(none|simulator|stripe))*$/, 'CUR=provider pairs such as JPY=stripe,EUR=none').optional())
    .describe('another provider for some currencies than TOPUP_PROVIDER, as CUR=provider pairs (JPY=stripe,EUR=none)'),
  PROVIDER_SIMULATOR_URL: z.string().url().default('http://127.0.0.1:4010').describe('the provider simulator (npm run dev:provider)'),
  PROVIDER_SIMULATOR_SECRET: z.string().min(8).default('dev-provider-secret').describe('the secret the provider simulator and this server share'),
  STRIPE_SECRET_KEY: optionalString.describe('Stripe secret key (sk_...), with TOPUP_PROVIDER=stripe'),
  STRIPE_WEBHOOK_SECRET: optionalString.describe('signing secret (whsec_...) of the Stripe webhook that posts to /api/v1/wallet/providers/stripe/callback'),
  STRIPE_API_URL: optionalString.pipe(url.optional()).describe("another Stripe API base (stripe-mock in tests); Stripe's own by default"),
  STRIPE_PAYOUT_ACCOUNT: optionalString.describe('the Stripe account (acct_...) whose balance pays withdrawals out and that keeps linked external accounts'),
  WITHDRAWAL_DEADLINE_SECONDS: positiveInt.max(30 * 86_400).default(7 * 86_400).describe('seconds the provider has to confirm a payout before the money goes back to the wallet'),
  TOPUP_EXPIRES_SECONDS: positiveInt.max(7 * 86_400).default(1800).describe('seconds a top-up waits for the user to pay before it expires'),
  PROVIDER_TIMEOUT_MS: positiveInt.min(100).max(120_000).default(10_000).describe('milliseconds a call to the wallet provider may take before it is given up and retried (with the same idempotency key)'),
  PROVIDER_POLL_SECONDS: positiveInt.max(3600).default(30).describe('seconds between a waiting top-up asking its provider, when no callback came'),

  MATRIX_HOMESERVER_URL: optionalString.pipe(url.optional()).describe('client-server API base URL of the homeserver; unset turns Matrix off'),
  MATRIX_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a Matrix server name such as example.org')
    .default('localhost')
    .describe('server name in Matrix user ids (the part after the colon)'),
  MATRIX_AS_TOKEN: optionalString.describe('as_token of the Application Service registration (we call the homeserver with it)'),
  MATRIX_HS_TOKEN: optionalString.describe('hs_token of the Application Service registration (the homeserver calls us with it)'),
  MATRIX_AS_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . -').default('tween-miniapps').describe('id of the Application Service registration'),
  MATRIX_AS_URL: optionalString.pipe(url.optional()).describe('URL at which the homeserver reaches this server (default PUBLIC_URL)'),
  MATRIX_AUTH_MODE: z
    .enum(['homeserver', 'mas'])
    .default('homeserver')
    .describe("how users' Matrix access tokens are checked: homeserver (whoami) or mas (RFC 7662 introspection)"),
  MAS_INTROSPECTION_URL: optionalString.pipe(url.optional()).describe('RFC 7662 introspection endpoint of the Matrix Authentication Service (MATRIX_AUTH_MODE=mas)'),
  MAS_CLIENT_ID: optionalString.describe("this server's client id at MAS, for introspection"),
  MAS_CLIENT_SECRET: optionalString.describe("this server's client secret at MAS, for introspection"),
  MATRIX_BOT_AVATAR_URL: optionalString
    .pipe(z.string().regex(/^mxc:\/\/[^/]+\/[^/]+$/, 'an mxc:// URL').optional())
    .describe('mxc:// avatar of the bots'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  mode: 'development' | 'production' | 'test';
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  /** drainMs: how long a stopping API process keeps serving with /ready at 503. */
  http: { host: string; port: number; publicUrl: string; processes: number; trustProxy: TrustProxy; drainMs: number };
  /** How long a stopping worker lets running activities finish. */
  workerShutdownGraceMs: number;
  database: { url: string | undefined; poolSize: number; preparedStatements: boolean; embeddedPort: number };
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    cliPath: string | undefined;
    devPort: number;
    uiPort: number;
    workflowBundlePath: string | undefined;
    /** The Web UI's stack traces of running workflows (a stack trace captured for every promise a workflow makes). */
    workflowStackTraces: boolean;
    /** Undefined: plain gRPC (a dev server on loopback); else TLS, with these files. */
    tls: { certFile?: string; keyFile?: string; caFile?: string; serverName?: string } | undefined;
    apiKey: string | undefined;
  };
  tep: { keysFile: string; ttlSeconds: number; refreshTtlSeconds: number };
  adminToken: string | undefined;
  /** The bearer token GET /metrics requires; undefined: open. */
  metricsToken: string | undefined;
  /** The worker's Prometheus port; undefined: none. */
  workerMetricsPort: number | undefined;
  /** Shared by the api and the worker; `npm start` generates one into .data/dev-secrets.json. */
  dataKey: Buffer | undefined;
  miniappsFile: string;
  wallet: { defaultCurrency: Currency; transactionLimit: bigint; dailyLimit: bigint; monthlyLimit: bigint };
  p2p: {
    authorizationWindowMs: number;
    acceptanceWindowMs: number;
    /** Minor units per currency; a transfer above its currency's threshold waits for the recipient. No entry: no threshold. */
    acceptanceThresholds: Partial<Record<Currency, bigint>>;
    maxAuthAttempts: number;
    maxPendingPerSender: number;
    eventWaitMs: number;
  };
  /** How long a rotated webhook secret keeps signing beside the new one. */
  webhookSecretOverlapSeconds: number;
  /** Whether webhooks may go to loopback, private and link-local addresses (never by default in production). */
  webhookAllowPrivate: boolean;
  gifts: { maxCount: number; maxExpiresSeconds: number };
  storage: { encryptionKeys: string | undefined; quotaBytes: number; maxKeys: number; maxKeyBytes: number; maxValueBytes: number };
  /** Mini-apps trusted to report wallet payments (PROTO 4.11.7). */
  walletProviders: string[];
  payments: {
    authorizationWindowMs: number;
    /** Minor units per currency from which a payment asks for a second factor. No entry: never by amount. */
    mfaThresholds: Partial<Record<Currency, bigint>>;
    mfaNewDeviceDays: number;
    mfaChallengeMs: number;
    mfaMaxAttempts: number;
  };
  /** How long the API waits for a saga's answer before 503. */
  sagaAnswerTimeoutMs: number;
  /** Failed proofs that lock a method, and how long each successive lock lasts. */
  lockout: LockoutPolicy;
  /** Token buckets per category (PROTO 11.4), and when repeated violations suspend a caller (11.4.5). */
  rateLimits: {
    /** False only with RATE_LIMIT_SCALE=0 (benchmarks measure the limiter's cost with it off). */
    enabled: boolean;
    limits: Record<RateCategory, RateLimit>;
    scale: number;
    suspendAfter: number;
    suspendWindowMs: number;
    suspendForMs: number;
    redisUrl: string | undefined;
  };
  /** Where money comes in from: the top-ups' provider and how long a top-up waits. */
  providers: {
    topUp: 'none' | 'simulator' | 'stripe';
    simulator: { url: string; secret: string; timeoutMs: number };
    /** Currencies whose provider is another than `topUp`. */
    byCurrency: Partial<Record<Currency, 'none' | 'simulator' | 'stripe'>>;
    stripe: { secretKey: string; webhookSecret: string; apiUrl: string | undefined; payoutAccount: string | undefined; timeoutMs: number } | undefined;
    topUpExpiresMs: number;
    withdrawalDeadlineMs: number;
    pollIntervalMs: number;
  };
  /** Undefined when no homeserver is configured: events are skipped, room checks are off, the money still moves. */
  matrix: { homeserverUrl: string; asToken: string; hsToken: string; serverName: string; botAvatarUrl: string | undefined } | undefined;
  /** How users' Matrix access tokens are checked (src/auth/matrixTokens.ts). */
  matrixAuth: { mode: 'homeserver' } | { mode: 'mas'; introspectionUrl: string; clientId: string; clientSecret: string; serverName: string };
  /** Who this server is as an Application Service; what `npm run registration` writes. */
  appservice: { id: string; url: string; serverName: string; asToken: string | undefined; hsToken: string | undefined };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates the environment once into the typed Config; throws ConfigError naming every bad variable. */
/** TLS to Temporal: asked for (TEMPORAL_TLS=true), or implied by a certificate, a CA, a server name or an API key. */
function temporalTls(e: z.infer<typeof envSchema>): Config['temporal']['tls'] {
  const files = {
    ...(e.TEMPORAL_TLS_CERT ? { certFile: e.TEMPORAL_TLS_CERT } : {}),
    ...(e.TEMPORAL_TLS_KEY ? { keyFile: e.TEMPORAL_TLS_KEY } : {}),
    ...(e.TEMPORAL_TLS_CA ? { caFile: e.TEMPORAL_TLS_CA } : {}),
    ...(e.TEMPORAL_TLS_SERVER_NAME ? { serverName: e.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
  if (e.TEMPORAL_TLS === 'false') return undefined;
  return e.TEMPORAL_TLS === 'true' || Object.keys(files).length > 0 || e.TEMPORAL_API_KEY !== undefined ? files : undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0]);
        const expected = envSchema.shape[key as keyof Env]?.description;
        return `${key}: ${issue.message}${expected ? ` (expected ${expected})` : ''}`;
      }),
    );
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const problems: string[] = [];
  const requireInProduction = (key: keyof Env, value: unknown) => {
    if (production && value === undefined) problems.push(`${key}: required when NODE_ENV=production (expected ${envSchema.shape[key].description})`);
  };
  requireInProduction('PUBLIC_URL', e.PUBLIC_URL);
  requireInProduction('DATABASE_URL', e.DATABASE_URL);
  requireInProduction('TEMPORAL_ADDRESS', e.TEMPORAL_ADDRESS);
  requireInProduction('TEP_KEYS_FILE', e.TEP_KEYS_FILE);
  requireInProduction('MINIAPPS_FILE', e.MINIAPPS_FILE);
  requireInProduction('DATA_ENCRYPTION_KEY', e.DATA_ENCRYPTION_KEY);

  const currency = e.WALLET_DEFAULT_CURRENCY as Currency;
  const limit = (key: 'WALLET_TRANSACTION_LIMIT' | 'WALLET_DAILY_LIMIT' | 'WALLET_MONTHLY_LIMIT'): bigint => {
    try {
      return parseAmount(e[key], currency, key);
    } catch (err) {
      problems.push(err instanceof DomainError ? err.message : `${key}: invalid`);
      return 0n;
    }
  };
  const wallet = {
    defaultCurrency: currency,
    transactionLimit: limit('WALLET_TRANSACTION_LIMIT'),
    dailyLimit: limit('WALLET_DAILY_LIMIT'),
    monthlyLimit: limit('WALLET_MONTHLY_LIMIT'),
  };

  const dataDir = path.resolve(e.TMCP_DATA_DIR);
  const miniappsFile = e.MINIAPPS_FILE ?? path.resolve('config', 'miniapps.dev.yaml');
  if (e.MINIAPPS_FILE !== undefined && !existsSync(e.MINIAPPS_FILE)) problems.push(`MINIAPPS_FILE: no file at ${e.MINIAPPS_FILE}`);
  if (e.TEP_KEYS_FILE !== undefined && !existsSync(e.TEP_KEYS_FILE)) problems.push(`TEP_KEYS_FILE: no file at ${e.TEP_KEYS_FILE}`);
  const matrixParts = [e.MATRIX_HOMESERVER_URL, e.MATRIX_AS_TOKEN, e.MATRIX_HS_TOKEN];
  if (matrixParts.some((v) => v === undefined) && matrixParts.some((v) => v !== undefined)) {
    problems.push('MATRIX_HOMESERVER_URL / MATRIX_AS_TOKEN / MATRIX_HS_TOKEN: set all three to turn Matrix on, or none');
  }
  // The integration guide publishes a pair of tokens; a deployment that copied them is open to anyone who read it.
  for (const key of ['MATRIX_AS_TOKEN', 'MATRIX_HS_TOKEN'] as const) {
    if (e[key] !== undefined && PUBLISHED_TOKENS.has(e[key])) problems.push(`${key}: is the example token of the integration guide; generate one (npm run registration)`);
  }
  if (e.MATRIX_AS_TOKEN !== undefined && e.MATRIX_AS_TOKEN === e.MATRIX_HS_TOKEN) problems.push('MATRIX_HS_TOKEN: must differ from MATRIX_AS_TOKEN');
  if (e.MATRIX_AUTH_MODE === 'mas') {
    for (const key of ['MAS_INTROSPECTION_URL', 'MAS_CLIENT_ID', 'MAS_CLIENT_SECRET'] as const) {
      if (e[key] === undefined) problems.push(`${key}: required with MATRIX_AUTH_MODE=mas (${envSchema.shape[key].description})`);
    }
  }
  requireInProduction('MATRIX_HOMESERVER_URL', e.MATRIX_HOMESERVER_URL);
  requireInProduction('MATRIX_AS_TOKEN', e.MATRIX_AS_TOKEN);
  requireInProduction('MATRIX_HS_TOKEN', e.MATRIX_HS_TOKEN);
  const orProblem = <T>(key: keyof Env, parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (err) {
      problems.push(`${key}: ${err instanceof Error ? err.message : String(err)} (expected ${envSchema.shape[key].description})`);
      return fallback;
    }
  };
  const trustProxy = orProblem('TRUST_PROXY', () => parseTrustProxy(e.TRUST_PROXY), undefined);
  const acceptanceThresholds = orProblem('P2P_ACCEPTANCE_THRESHOLD', () => parseAmountsByCurrency(e.P2P_ACCEPTANCE_THRESHOLD), {});
  const lockSchedule = orProblem('MFA_LOCKOUT_SCHEDULE', () => parseDurations(e.MFA_LOCKOUT_SCHEDULE), []);
  const walletLockWindow = orProblem('MFA_WALLET_LOCKOUT_WINDOW', () => parseDuration(e.MFA_WALLET_LOCKOUT_WINDOW), 0);
  if (production && e.RATE_LIMIT_SCALE === 0) problems.push('RATE_LIMIT_SCALE: 0 (no rate limits) is for measuring the limiter, not for production');
  const rateLimits = {
    enabled: e.RATE_LIMIT_SCALE > 0,
    limits: orProblem('RATE_LIMITS', () => parseRateLimits(e.RATE_LIMITS, e.RATE_LIMIT_SCALE), parseRateLimits('', 1)),
    scale: e.RATE_LIMIT_SCALE,
    suspendAfter: e.RATE_LIMIT_SUSPEND_AFTER,
    suspendWindowMs: orProblem('RATE_LIMIT_SUSPEND_WINDOW', () => parseDuration(e.RATE_LIMIT_SUSPEND_WINDOW), 0),
    suspendForMs: orProblem('RATE_LIMIT_SUSPEND_FOR', () => parseDuration(e.RATE_LIMIT_SUSPEND_FOR), 0),
    redisUrl: e.REDIS_URL,
  };
  for (const pair of (e.PROVIDER_BY_CURRENCY ?? '').split(',').filter(Boolean)) {
    if (!isCurrency(pair.slice(0, 3))) problems.push(`PROVIDER_BY_CURRENCY: ${pair.slice(0, 3)} is not a currency of the ledger`);
  }
  if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined)) problems.push('TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY: give both (mTLS) or neither');
  for (const name of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA'] as const) {
    const file = e[name];
    if (file !== undefined && !existsSync(file)) problems.push(`${name}: no file at ${file}`);
  }
  const stripeChosen = e.TOPUP_PROVIDER === 'stripe' || (e.PROVIDER_BY_CURRENCY ?? '').includes('=stripe');
  if (stripeChosen && (e.STRIPE_SECRET_KEY === undefined || e.STRIPE_WEBHOOK_SECRET === undefined)) {
    problems.push('STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET: required with TOPUP_PROVIDER=stripe');
  }
  if (production && (e.TOPUP_PROVIDER === 'simulator' || (e.PROVIDER_BY_CURRENCY ?? '').includes('=simulator'))) problems.push('TOPUP_PROVIDER: the simulator is for development; choose a real provider (stripe) or none in production');
  if (e.SAGA_ANSWER_TIMEOUT_MS <= e.MATRIX_EVENT_WAIT_MS) {
    problems.push('SAGA_ANSWER_TIMEOUT_MS: must be longer than MATRIX_EVENT_WAIT_MS (confirm waits that long for the room event)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');
  return {
    mode: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir,
    http: { host: e.HOST, port: e.PORT, publicUrl, processes: e.API_PROCESSES, trustProxy, drainMs: e.SHUTDOWN_DRAIN_SECONDS * 1000 },
    workerShutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, preparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'on', embeddedPort: e.EMBEDDED_PG_PORT },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
      devPort: e.TEMPORAL_DEV_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
      workflowStackTraces: e.WORKFLOW_STACK_TRACES === 'on',
      tls: temporalTls(e),
      apiKey: e.TEMPORAL_API_KEY,
    },
    tep: { keysFile: e.TEP_KEYS_FILE ?? path.join(dataDir, 'tep-keys.json'), ttlSeconds: e.TEP_TOKEN_TTL_SECONDS, refreshTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS },
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    workerMetricsPort: e.WORKER_METRICS_PORT,
    dataKey: e.DATA_ENCRYPTION_KEY === undefined ? undefined : parseDataKey(e.DATA_ENCRYPTION_KEY),
    miniappsFile,
    wallet,
    p2p: {
      authorizationWindowMs: e.P2P_AUTHORIZATION_WINDOW_SECONDS * 1000,
      acceptanceWindowMs: e.P2P_ACCEPTANCE_WINDOW_SECONDS * 1000,
      acceptanceThresholds,
      maxAuthAttempts: e.P2P_MAX_AUTH_ATTEMPTS,
      maxPendingPerSender: e.P2P_MAX_PENDING_PER_SENDER,
      eventWaitMs: e.MATRIX_EVENT_WAIT_MS,
    },
    webhookSecretOverlapSeconds: e.WEBHOOK_SECRET_OVERLAP_SECONDS,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS === undefined ? !production : e.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS === 'true',
    gifts: { maxCount: e.GIFT_MAX_COUNT, maxExpiresSeconds: e.GIFT_MAX_EXPIRES_SECONDS },
    storage: {
      encryptionKeys: e.STORAGE_ENCRYPTION_KEYS,
      quotaBytes: e.STORAGE_QUOTA_BYTES,
      maxKeys: e.STORAGE_MAX_KEYS,
      maxKeyBytes: e.STORAGE_MAX_KEY_BYTES,
      maxValueBytes: e.STORAGE_MAX_VALUE_BYTES,
    },
    walletProviders: e.WALLET_PROVIDERS.split(',').map((v) => v.trim()).filter(Boolean),
    payments: {
      authorizationWindowMs: e.PAYMENT_AUTHORIZATION_WINDOW_SECONDS * 1000,
      mfaThresholds: orProblem('PAYMENT_MFA_THRESHOLD', () => parseAmountsByCurrency(e.PAYMENT_MFA_THRESHOLD), {}),
      mfaNewDeviceDays: e.PAYMENT_MFA_NEW_DEVICE_DAYS,
      mfaChallengeMs: e.PAYMENT_MFA_CHALLENGE_SECONDS * 1000,
      mfaMaxAttempts: e.PAYMENT_MFA_MAX_ATTEMPTS,
    },
    sagaAnswerTimeoutMs: e.SAGA_ANSWER_TIMEOUT_MS,
    rateLimits,
    providers: {
      topUp: e.TOPUP_PROVIDER ?? (production ? 'none' : 'simulator'),
      simulator: { url: e.PROVIDER_SIMULATOR_URL, secret: e.PROVIDER_SIMULATOR_SECRET, timeoutMs: e.PROVIDER_TIMEOUT_MS },
      byCurrency: Object.fromEntries((e.PROVIDER_BY_CURRENCY ?? '').split(',').filter(Boolean).map((pair) => pair.split('=') as [Currency, 'none' | 'simulator' | 'stripe'])),
      stripe:
        e.STRIPE_SECRET_KEY && e.STRIPE_WEBHOOK_SECRET
          ? { secretKey: e.STRIPE_SECRET_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET, apiUrl: e.STRIPE_API_URL, payoutAccount: e.STRIPE_PAYOUT_ACCOUNT, timeoutMs: e.PROVIDER_TIMEOUT_MS }
          : undefined,
      topUpExpiresMs: e.TOPUP_EXPIRES_SECONDS * 1000,
      withdrawalDeadlineMs: e.WITHDRAWAL_DEADLINE_SECONDS * 1000,
      pollIntervalMs: e.PROVIDER_POLL_SECONDS * 1000,
    },
    lockout: { threshold: e.MFA_LOCKOUT_THRESHOLD, scheduleMs: lockSchedule, wallet: { threshold: e.MFA_WALLET_LOCKOUT_THRESHOLD, windowMs: walletLockWindow } },
    matrix:
      e.MATRIX_HOMESERVER_URL && e.MATRIX_AS_TOKEN && e.MATRIX_HS_TOKEN
        ? {
            homeserverUrl: e.MATRIX_HOMESERVER_URL.replace(/\/$/, ''),
            asToken: e.MATRIX_AS_TOKEN,
            hsToken: e.MATRIX_HS_TOKEN,
            serverName: e.MATRIX_SERVER_NAME,
            botAvatarUrl: e.MATRIX_BOT_AVATAR_URL,
          }
        : undefined,
    matrixAuth:
      e.MATRIX_AUTH_MODE === 'mas' && e.MAS_INTROSPECTION_URL && e.MAS_CLIENT_ID && e.MAS_CLIENT_SECRET
        ? { mode: 'mas', introspectionUrl: e.MAS_INTROSPECTION_URL, clientId: e.MAS_CLIENT_ID, clientSecret: e.MAS_CLIENT_SECRET, serverName: e.MATRIX_SERVER_NAME }
        : { mode: 'homeserver' },
    appservice: {
      id: e.MATRIX_AS_ID,
      url: (e.MATRIX_AS_URL ?? publicUrl).replace(/\/$/, ''),
      serverName: e.MATRIX_SERVER_NAME,
      asToken: e.MATRIX_AS_TOKEN,
      hsToken: e.MATRIX_HS_TOKEN,
    },
  };
}

/** The dev launcher's data folder, readable before the rest of the configuration is complete. */
export function dataDirFrom(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.TMCP_DATA_DIR?.trim() || DEFAULT_DATA_DIR);
}

/** Reads `.env` when present (Node's own parser), so a local override file needs no extra tool. */
export function loadDotEnv(file = path.resolve('.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

/** For process entry points: load config or print every problem and exit non-zero. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Requires a value that only development may leave out because the launcher provides it. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new ConfigError([`${name}: required for this process (npm start provides one on embedded defaults)`]);
  }
  return value;
}
