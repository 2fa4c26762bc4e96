import { readFileSync } from 'node:fs';
import { ConfigError, envSchema, loadConfig } from '../../src/config';

test('development needs nothing and applies the documented defaults', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    mode: 'development',
    http: { port: 3000, publicUrl: 'http://localhost:3000' },
    temporal: { namespace: 'default', taskQueue: 'tmcp', uiPort: 8233, address: undefined },
    database: { url: undefined },
    wallet: { defaultCurrency: 'USD', transactionLimit: 5000000n, dailyLimit: 10000000n },
  });
  expect(config.tep.keysFile).toMatch(/\.data\/tep-keys\.json$/);
});

test('a bad value names the variable and what it expects', () => {
  const error = (() => {
    try {
      loadConfig({ PORT: 'eighty', WALLET_DEFAULT_CURRENCY: 'XXX', DATABASE_URL: 'not a url', ADMIN_TOKEN: 'short', DATA_ENCRYPTION_KEY: 'abc' });
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems.join('\n');
  expect(problems).toMatch(/^PORT: .*expected API port/m);
  expect(problems).toMatch(/^WALLET_DEFAULT_CURRENCY: /m);
  expect(problems).toMatch(/^DATABASE_URL: /m);
  expect(problems).toMatch(/^ADMIN_TOKEN: .*32/m);
  expect(problems).toMatch(/^DATA_ENCRYPTION_KEY: 32 bytes/m);
});

test('production refuses to start without its required settings, naming each', () => {
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
  try {
    loadConfig({ NODE_ENV: 'production' });
  } catch (err) {
    const names = (err as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(names.sort()).toEqual([
      'DATABASE_URL',
      'DATA_ENCRYPTION_KEY',
      'MATRIX_AS_TOKEN',
      'MATRIX_HOMESERVER_URL',
      'MATRIX_HS_TOKEN',
      'MINIAPPS_FILE',
      'PUBLIC_URL',
      'TEMPORAL_ADDRESS',
      'TEP_KEYS_FILE',
    ]);
  }
});

test('limits must fit the default currency', () => {
  expect(() => loadConfig({ WALLET_DEFAULT_CURRENCY: 'JPY', WALLET_DAILY_LIMIT: '10.5' })).toThrow(/WALLET_DAILY_LIMIT: JPY allows at most 0 decimal places/);
});

test('.env.example documents every variable the schema reads, and nothing else', () => {
  const documented = readFileSync('.env.example', 'utf8')
    .split('\n')
    .map((line) => /^#?\s*([A-Z][A-Z0-9_]+)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  expect(new Set(documented)).toEqual(new Set(Object.keys(envSchema.shape)));
});

test("refuses the integration guide's example AS tokens, and an hs_token equal to the as_token", () => {
  const matrix = { MATRIX_HOMESERVER_URL: 'http://hs.test' };
  expect(() => loadConfig({ ...matrix, MATRIX_AS_TOKEN: '54280d605e23adf6bd5d66ee07a09196dbab0bd87d35f8ecc1fd70669f709502', MATRIX_HS_TOKEN: 'x'.repeat(64) })).toThrow(
    /MATRIX_AS_TOKEN: is the example token/,
  );
  expect(() => loadConfig({ ...matrix, MATRIX_AS_TOKEN: 'y'.repeat(64), MATRIX_HS_TOKEN: '874542cda496ffd03f8fd283ad37d8837572aad0734e92225c5f7fffd8c91bd1' })).toThrow(
    /MATRIX_HS_TOKEN: is the example token/,
  );
  expect(() => loadConfig({ ...matrix, MATRIX_AS_TOKEN: 'z'.repeat(64), MATRIX_HS_TOKEN: 'z'.repeat(64) })).toThrow(/must differ/);
  expect(loadConfig({ ...matrix, MATRIX_AS_TOKEN: 'a'.repeat(64), MATRIX_HS_TOKEN: 'h'.repeat(64) }).matrix).toMatchObject({ asToken: 'a'.repeat(64), hsToken: 'h'.repeat(64) });
});

test('the acceptance threshold is set per currency in minor units, and checked at start', () => {
  expect(loadConfig({ P2P_ACCEPTANCE_THRESHOLD: 'USD:100000, JPY:150000' }).p2p.acceptanceThresholds).toEqual({ USD: 100000n, JPY: 150000n });
  // The default covers every currency the ledger accepts, in its own minor units.
  expect(loadConfig({}).p2p.acceptanceThresholds).toMatchObject({ USD: 100000n, JPY: 150000n, NGN: 150000000n });
  for (const [value, problem] of [
    ['1000.50', /'1000.50' is not CUR:minor_units/],
    ['USD:10.50', /is not CUR:minor_units/],
    ['XXX:100', /'XXX' is not a supported currency/],
    ['USD:1,USD:2', /USD is listed twice/],
  ] as const) {
    expect(() => loadConfig({ P2P_ACCEPTANCE_THRESHOLD: value })).toThrow(new RegExp(`P2P_ACCEPTANCE_THRESHOLD: .*${problem.source}`));
  }
});

test('the lockout schedule is a list of durations, and the saga deadline outlasts the room-event wait', () => {
  expect(loadConfig({}).lockout).toEqual({ threshold: 5, scheduleMs: [15 * 60_000, 3_600_000, 86_400_000], wallet: { threshold: 50, windowMs: 86_400_000 } });
  expect(loadConfig({ MFA_LOCKOUT_SCHEDULE: '30s, 2d', MFA_LOCKOUT_THRESHOLD: '3', MFA_WALLET_LOCKOUT_WINDOW: '1h' }).lockout).toEqual({
    threshold: 3,
    scheduleMs: [30_000, 172_800_000],
    wallet: { threshold: 50, windowMs: 3_600_000 },
  });
  expect(() => loadConfig({ MFA_WALLET_LOCKOUT_WINDOW: '1h,2h' })).toThrow(/MFA_WALLET_LOCKOUT_WINDOW/);
  expect(() => loadConfig({ MFA_LOCKOUT_SCHEDULE: '15 minutes' })).toThrow(/MFA_LOCKOUT_SCHEDULE: '15 minutes' is not a duration/);
  expect(() => loadConfig({ MFA_LOCKOUT_SCHEDULE: '0m' })).toThrow(/MFA_LOCKOUT_SCHEDULE/);
  expect(() => loadConfig({ SAGA_ANSWER_TIMEOUT_MS: '3000', MATRIX_EVENT_WAIT_MS: '3000' })).toThrow(/SAGA_ANSWER_TIMEOUT_MS: must be longer than MATRIX_EVENT_WAIT_MS/);
});

test("rate limits default to PROTO 11.4.1's table, are overridden per category and scaled, and a bad entry is named", () => {
  const defaults = loadConfig({}).rateLimits;
  expect(defaults.limits).toMatchObject({
    device_code: { limit: 20, windowMs: 60_000, burst: 5 },
    token: { limit: 10, windowMs: 60_000, burst: 3 },
    token_refresh: { limit: 20, windowMs: 3_600_000, burst: 5 },
    tep_validation: { limit: 1000, windowMs: 60_000, burst: 100 },
    payment_initiation: { limit: 5, windowMs: 60_000, burst: 0 },
    payment_authorization: { limit: 3, windowMs: 60_000, burst: 0 },
    p2p: { limit: 10, windowMs: 3_600_000, burst: 3 },
    balance: { limit: 60, windowMs: 60_000, burst: 10 },
    history: { limit: 30, windowMs: 60_000, burst: 5 },
    resolution: { limit: 100, windowMs: 60_000, burst: 20 },
    storage: { limit: 100, windowMs: 60_000, burst: 20 },
    storage_batch: { limit: 10, windowMs: 60_000, burst: 2 },
  });
  expect(defaults).toMatchObject({ scale: 1, suspendAfter: 10, suspendWindowMs: 3_600_000, suspendForMs: 3_600_000, redisUrl: undefined });

  const tuned = loadConfig({ RATE_LIMITS: 'balance=600/1m/100', RATE_LIMIT_SCALE: '10' }).rateLimits.limits;
  expect(tuned.balance).toEqual({ limit: 6000, windowMs: 60_000, burst: 1000 });
  expect(tuned.p2p).toEqual({ limit: 100, windowMs: 3_600_000, burst: 30 });

  for (const [value, message] of [
    ['balance=60/1m', /balance=60\/1m' is not category=limit\/window\/burst/],
    ['coffee=1/1m/0', /'coffee' is not a rate-limit category/],
    ['balance=0/1m/0', /the limit must be at least 1/],
    ['balance=1/1m/0,balance=2/1m/0', /balance is listed twice/],
    ['balance=1/1w/0', /not a duration/],
  ] as const) {
    expect(() => loadConfig({ RATE_LIMITS: value })).toThrow(message);
  }
});
