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
