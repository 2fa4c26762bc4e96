import { generateKeyPairSync, sign } from 'node:crypto';
import pino from 'pino';
import { generate } from 'otplib';
import { sql } from 'slonik';
import { z } from 'zod';
import { ALL_SCOPES } from '../../src/domain/scopes';
import { sealLegacySecrets } from '../../src/runtime';
import { verifyPaymentProof } from '../../src/factors/proofs';
import { startTestApi, TEST_DATA_KEY, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { expectError, MESSENGER_CLIENT, newUserId, PIN, pinProof, testProofDeps, walletUser, type TestUser } from '../helpers/p2p';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * Payment factors (PIN, TOTP, device keys) and wallet settings belong to the user: only their own
 * messenger (a Matrix session, or a TEP of a first-party client) may change them, and once one is
 * set up every change needs a proof of it.
 */
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  api = await startTestApi(db, stubMatrixEnv(hs, 'factors'));
});
afterAll(async () => {
  await api.close();
  await hs.close();
  await db.close();
});

const ec = () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair, spki: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
};
const deviceBody = (deviceId: string, spki: string) => ({ device_id: deviceId, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: spki } });

/** What the database holds of a user's factors and settings. */
async function factorsOf(user: TestUser) {
  return db.pool.one(sql.type(z.object({ pin: z.boolean(), totp: z.boolean(), devices: z.number(), acceptance: z.boolean() }))`
    SELECT EXISTS (SELECT 1 FROM user_pins WHERE user_id = ${user.userId}) AS pin,
           EXISTS (SELECT 1 FROM user_totp WHERE user_id = ${user.userId}) AS totp,
           (SELECT count(*)::int FROM devices WHERE user_id = ${user.userId}) AS devices,
           (SELECT require_p2p_acceptance FROM wallets WHERE user_id = ${user.userId}) AS acceptance`);
}

describe('who may change payment factors and wallet settings', () => {
  it('refuses a mini-app token on every factor and on the settings, whatever its scopes', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const miniapp = await api.token(alice.userId, ALL_SCOPES, 'ma_demo');
    const calls: [string, string, unknown][] = [
      ['POST', '/api/v1/wallet/pin', { pin: '1234' }],
      ['POST', '/api/v1/wallet/totp/enroll', {}],
      ['POST', '/api/v1/wallet/devices/register', deviceBody('evil-device', ec().spki)],
      ['PUT', '/api/v1/wallet/settings', { require_p2p_acceptance: true }],
    ];
    for (const [method, path, body] of calls) {
      const res = await api.call(method, path, { token: miniapp, body });
      expectError(res, 403, 'INSUFFICIENT_PERMISSIONS');
      expect(res.body.error.details).toMatchObject({ client_id: 'ma_demo' });
    }
    expect(await factorsOf(alice)).toEqual({ pin: false, totp: false, devices: 0, acceptance: false });
  });

  it("lets the user's messenger do it: a first-party TEP, or the user's Matrix access token checked at the homeserver", async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    expect((await api.call('POST', '/api/v1/wallet/pin', { token: alice.messenger, body: { pin: PIN } })).status).toBe(201);

    hs.addSession('syt_alice_session', alice.userId);
    const whoamiBefore = hs.calls.filter((c) => c.kind === 'whoami').length;
    const enrolled = await api.call('POST', '/api/v1/wallet/totp/enroll', { token: 'syt_alice_session', body: pinProof() });
    expect(enrolled.status).toBe(201);
    const settings = await api.call('PUT', '/api/v1/wallet/settings', { token: 'syt_alice_session', body: { require_p2p_acceptance: true } });
    expect(settings.body).toEqual({ wallet_id: alice.walletId, require_p2p_acceptance: true, require_payment_mfa: false });
    // The homeserver vouched for the token once; the second call used the cached answer.
    const whoami = hs.calls.filter((c) => c.kind === 'whoami').slice(whoamiBefore);
    expect(whoami).toHaveLength(1);
    expect(whoami[0]!.authorization).toBe('Bearer syt_alice_session');
    expect(await factorsOf(alice)).toEqual({ pin: true, totp: true, devices: 0, acceptance: true });
  });

  it('refuses an unknown Matrix token, a guest, a messenger TEP without the scope, and answers 503 while the homeserver cannot check', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const setPin = (token: string) => api.call('POST', '/api/v1/wallet/pin', { token, body: { pin: PIN } });
    expectError(await setPin('syt_unknown'), 401, 'INVALID_TOKEN');
    hs.addSession('syt_guest', alice.userId, { guest: true });
    expectError(await setPin('syt_guest'), 403, 'INSUFFICIENT_PERMISSIONS');
    expectError(await setPin(await api.token(alice.userId, ['wallet:balance'], MESSENGER_CLIENT)), 403, 'INSUFFICIENT_PERMISSIONS');
    hs.addSession('syt_while_down', alice.userId);
    hs.replyTo('whoami', { status: 502 });
    const down = await setPin('syt_while_down');
    expectError(down, 503, 'SERVICE_UNAVAILABLE');
    expect(down.headers.get('retry-after')).toBe('5');
    expect((await factorsOf(alice)).pin).toBe(false);
    expect((await setPin('syt_while_down')).status).toBe(201);
  });
});

describe('a second factor needs a proof of the first', () => {
  it('refuses to add TOTP, a device or a new PIN without a valid proof, and accepts one with it', async () => {
    const alice = await walletUser(api, { name: 'alice' });
    const { spki, privateKey } = ec();
    const totp = (body: unknown) => api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger, body });
    const device = (body: unknown) => api.call('POST', '/api/v1/wallet/devices/register', { token: alice.messenger, body });

    const missing = await totp({});
    expectError(missing, 402, 'MFA_REQUIRED', 'auth_proof');
    expect(missing.body.error.details.available_methods).toEqual(['pin']);
    expectError(await totp(pinProof('0000')), 401, 'INVALID_MFA_CREDENTIALS');
    expectError(await device(deviceBody('phone', spki)), 402, 'MFA_REQUIRED', 'auth_proof');
    expectError(await api.call('POST', '/api/v1/wallet/pin', { token: alice.messenger, body: { pin: '5555' } }), 402, 'MFA_REQUIRED', 'auth_proof');
    expect(await factorsOf(alice)).toMatchObject({ totp: false, devices: 0 });

    expect((await device({ ...deviceBody('phone', spki), ...pinProof() })).status).toBe(201);
    // The new device can now approve a change itself: it signs factor:<action>:<user>:<timestamp>.
    const timestamp = new Date().toISOString();
    const signature = sign('sha256', Buffer.from(`factor:totp:${alice.userId}:${timestamp}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const byDevice = { auth_proof: { method: 'biometric', proof: { signature: signature.toString('base64'), device_id: 'phone', timestamp } } };
    expect((await totp(byDevice)).status).toBe(201);
    // A signature is good once, and for the action it names.
    expectError(await api.call('POST', '/api/v1/wallet/pin', { token: alice.messenger, body: { pin: '5555', ...byDevice } }), 401, 'INVALID_SIGNATURE');
    expect(await factorsOf(alice)).toMatchObject({ pin: true, totp: true, devices: 1 });
  });

  it('lets only one of several first enrolments at once skip the proof', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const answers = await Promise.all([
      api.call('POST', '/api/v1/wallet/pin', { token: alice.messenger, body: { pin: PIN } }),
      api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger, body: {} }),
      api.call('POST', '/api/v1/wallet/devices/register', { token: alice.messenger, body: deviceBody('phone', ec().spki) }),
      api.call('POST', '/api/v1/wallet/devices/register', { token: alice.messenger, body: deviceBody('tablet', ec().spki) }),
    ]);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 201)) expectError(refused, 402, 'MFA_REQUIRED', 'auth_proof');
    const factors = await factorsOf(alice);
    expect(Number(factors.pin) + Number(factors.totp) + factors.devices).toBe(1);
  });
});

describe('TOTP secrets at rest', () => {
  const Row = z.object({ secret: z.string().nullable(), sealed_secret: z.string().nullable() });

  it('keeps the secret sealed, never in plaintext, and still verifies codes', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const enrolled = await api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger, body: {} });
    const secret = new URL(enrolled.body.otpauth_uri).searchParams.get('secret')!;
    const row = await db.pool.one(sql.type(Row)`SELECT secret, sealed_secret FROM user_totp WHERE user_id = ${alice.userId}`);
    expect(row.secret).toBeNull();
    expect(row.sealed_secret).toMatch(/^v1\./);
    expect(row.sealed_secret).not.toContain(secret);
    const deps = testProofDeps(db.pool);
    expect(deps.totpSealer.open(row.sealed_secret!, alice.userId)).toBe(secret);
    // Bound to its user: copied to another user's row, it does not open.
    expect(() => deps.totpSealer.open(row.sealed_secret!, '@mallory:tmcp.test')).toThrow();
    const proof = { method: 'otp' as const, proof: { otp_code: await generate({ secret }) } };
    await expect(verifyPaymentProof(deps, { userId: alice.userId, scope: 'ma_demo', proof, signedMessage: () => '', attemptKey: 'totp-at-rest' })).resolves.toEqual({ method: 'otp' });
  });

  it('seals a secret an earlier version stored in plaintext when the server starts', async () => {
    const userId = '@legacy:tmcp.test';
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await db.pool.query(sql.unsafe`INSERT INTO user_totp (user_id, secret) VALUES (${userId}, ${secret})`);
    await sealLegacySecrets(db.pool, Buffer.from(TEST_DATA_KEY, 'hex'), pino({ level: 'silent' }));
    const row = await db.pool.one(sql.type(Row)`SELECT secret, sealed_secret FROM user_totp WHERE user_id = ${userId}`);
    expect(row.secret).toBeNull();
    expect(row.sealed_secret).not.toContain(secret);
    const proof = { method: 'otp' as const, proof: { otp_code: await generate({ secret }) } };
    await expect(verifyPaymentProof(testProofDeps(db.pool), { userId, scope: 'ma_demo', proof, signedMessage: () => '', attemptKey: 'legacy' })).resolves.toEqual({ method: 'otp' });
  });
});

describe('registering a wallet from the messenger', () => {
  it("accepts the user's Matrix access token (PROTO 6.3.4): the wallet is the token owner's, created once", async () => {
    const userId = newUserId('carol');
    hs.addSession('syt_carol_session', userId);
    const register = (body: unknown, token = 'syt_carol_session') => api.call('POST', '/api/v1/wallet/register', { token, body });
    const created = await register({});
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user_id: userId, wallet_id: expect.stringMatching(/^tw_/) });
    const again = await register({});
    expect(again.status).toBe(200);
    expect(again.body.wallet_id).toBe(created.body.wallet_id);
    // The mini-app's TEP for the same user finds the same wallet.
    const viaMiniapp = await api.call('GET', '/api/v1/wallet/balance', { token: await api.token(userId, ['wallet:balance']) });
    expect(viaMiniapp.body.wallet_id).toBe(created.body.wallet_id);
    expectError(await register({ user_id: '@someone_else:tmcp.test' }), 403, 'INSUFFICIENT_PERMISSIONS', 'user_id');
    expectError(await register({}, 'syt_nobody_knows_this'), 401, 'INVALID_TOKEN');
  });
});

describe('checking Matrix tokens while the homeserver fails', () => {
  it('refuses a token no homeserver would issue without asking it, so garbage never opens the circuit', async () => {
    const own = await startTestApi(db, stubMatrixEnv(hs, 'garbage'));
    try {
      const asked = () => hs.calls.filter((c) => c.kind === 'whoami').length;
      const before = asked();
      const exchange = (subject: string) =>
        own.call('POST', '/oauth2/token', {
          raw: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', client_id: 'ma_demo' }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      for (let i = 0; i < 8; i += 1) {
        const res = await exchange(`tok\u00e9n ${i}\r\n`);
        expect([res.status, res.body.error]).toEqual([401, 'invalid_grant']);
      }
      expect(asked()).toBe(before);
      const user = newUserId('erin');
      hs.addSession('syt_erin_fine', user);
      expect((await exchange('syt_erin_fine')).status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('answers 503 at once, without asking the homeserver, after 5 failures in 10 checks (PROTO 7.7)', async () => {
    // An API of its own: its circuit opens for a minute.
    const own = await startTestApi(db, stubMatrixEnv(hs, 'breaker'));
    try {
      const userId = newUserId('dave');
      const register = (token: string) => own.call('POST', '/api/v1/wallet/register', { token, body: {} });
      const asked = () => hs.calls.filter((c) => c.kind === 'whoami').length;
      hs.replyTo('whoami', ...Array.from({ length: 5 }, () => ({ status: 502 })));
      for (let i = 0; i < 5; i += 1) {
        hs.addSession(`syt_dave_${i}`, userId);
        const res = await register(`syt_dave_${i}`);
        expectError(res, 503, 'SERVICE_UNAVAILABLE');
        expect(res.headers.get('retry-after')).toBe('5');
      }
      const before = asked();
      hs.addSession('syt_dave_fast', userId);
      const fast = await register('syt_dave_fast');
      expectError(fast, 503, 'SERVICE_UNAVAILABLE');
      expect(fast.body.error.details).toMatchObject({ circuit_state: 'OPEN' });
      expect(Number(fast.headers.get('retry-after'))).toBeGreaterThan(50);
      expect(asked()).toBe(before);
    } finally {
      await own.close();
    }
  });
});
