import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { parse } from 'yaml';
import { ensureDevSecrets } from '../../src/dev/secrets';
import { appserviceRegistration, registrationYaml } from '../../src/matrix/registration';
import { scratchFile } from '../helpers/scratch';

const run = promisify(execFile);

type Registration = ReturnType<typeof appserviceRegistration>;

async function generate(env: Record<string, string>, file = scratchFile('registration.yaml')): Promise<{ file: string; text: string; reg: Registration; stdout: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/registration.ts', '--out', file], {
    env: { PATH: process.env.PATH, NODE_ENV: 'development', ...env },
  });
  const text = await readFile(file, 'utf8');
  return { file, text, reg: parse(text) as Registration, stdout };
}

const matches = (reg: Registration, kind: 'users' | 'aliases', id: string) => reg.namespaces[kind].some((ns) => new RegExp(ns.regex).test(id));

test('writes a registration from the configuration, with fresh 256-bit tokens when none are configured', async () => {
  const { file, reg, stdout } = await generate({ MATRIX_SERVER_NAME: 'tween.im', PUBLIC_URL: 'https://tmcp.tween.im', MATRIX_AS_ID: 'tween-miniapps' });
  expect(reg).toMatchObject({ id: 'tween-miniapps', url: 'https://tmcp.tween.im', sender_localpart: '_tmcp', rate_limited: false, protocols: ['tween'] });
  expect(reg.as_token).toMatch(/^[0-9a-f]{64}$/);
  expect(reg.hs_token).toMatch(/^[0-9a-f]{64}$/);
  expect(reg.as_token).not.toBe(reg.hs_token);
  // Not the example tokens of the integration guide.
  expect([reg.as_token, reg.hs_token]).not.toContain('54280d605e23adf6bd5d66ee07a09196dbab0bd87d35f8ecc1fd70669f709502');
  expect(stdout).toContain('MATRIX_AS_TOKEN and MATRIX_HS_TOKEN');
  expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
  const again = await generate({ MATRIX_SERVER_NAME: 'tween.im' });
  expect(again.reg.as_token).not.toBe(reg.as_token);
});

test('uses the configured tokens and AS URL', async () => {
  const { reg, stdout } = await generate({
    MATRIX_HOMESERVER_URL: 'http://synapse:8008',
    MATRIX_AS_TOKEN: 'configured-as',
    MATRIX_HS_TOKEN: 'configured-hs',
    MATRIX_AS_URL: 'http://tmcp.internal:3000/',
  });
  expect(reg).toMatchObject({ as_token: 'configured-as', hs_token: 'configured-hs', url: 'http://tmcp.internal:3000' });
  expect(stdout).not.toContain('new tokens');
});

test('with MATRIX_HOMESERVER_URL exported, as for npm start, uses the tokens of the data folder', async () => {
  const dataDir = scratchFile('data');
  const secrets = await ensureDevSecrets(dataDir);
  const { reg, stdout } = await generate({ MATRIX_HOMESERVER_URL: 'http://localhost:8008', TMCP_DATA_DIR: dataDir });
  expect(reg).toMatchObject({ as_token: secrets.matrix_as_token, hs_token: secrets.matrix_hs_token });
  expect(stdout).not.toContain('new tokens');
});

test('creates the folder of --out when it is missing', async () => {
  const file = path.join(scratchFile('missing'), 'nested', 'tmcp-registration.yaml');
  const { reg, stdout } = await generate({ MATRIX_SERVER_NAME: 'tween.im' }, file);
  expect(reg.id).toBeTruthy();
  expect(stdout).toContain(`wrote ${file}`);
  expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
});

test('its exclusive namespaces cover our bots and mini-app aliases on our server, and nothing else', async () => {
  const { reg, text } = await generate({ MATRIX_SERVER_NAME: 'tween.im' });
  expect([...reg.namespaces.users, ...reg.namespaces.aliases].every((ns) => ns.exclusive === true)).toBe(true);
  for (const id of ['@_tmcp:tween.im', '@_tmcp_payments:tween.im', '@_tmcp_updater:tween.im', '@ma_shop_001:tween.im']) expect(matches(reg, 'users', id)).toBe(true);
  for (const id of ['@alice:tween.im', '@_tmcp_payments:tweenXim', '@_tmcp_payments:tween.im.evil', '@x_tmcp_payments:tween.im', '@ma_shop:other.org', '@MA_SHOP:tween.im']) {
    expect(matches(reg, 'users', id)).toBe(false);
  }
  for (const alias of ['#_ma_shop_001:tween.im', '#_ma_shop_001-news:tween.im']) expect(matches(reg, 'aliases', alias)).toBe(true);
  for (const alias of ['#general:tween.im', '#_ma_shop:tween.imx', '#_ma_x:y:tween.im']) expect(matches(reg, 'aliases', alias)).toBe(false);
  // One backslash before the dot in the file itself: a literal dot for the homeserver's regex.
  expect(text).toContain('^@_tmcp_payments:tween\\.im$');
  expect(text).not.toContain('tween\\\\.im');
});

test('the YAML reads back to the same registration', () => {
  const reg = appserviceRegistration({ id: 'x', url: 'http://a', serverName: 'odd-name.example.org:8448' }, { asToken: 'a', hsToken: 'h' });
  expect(parse(registrationYaml(reg))).toEqual(reg);
});
