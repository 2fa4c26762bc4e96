import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { generate } from 'otplib';
import { sql } from 'slonik';
import { z } from 'zod';
import pino from 'pino';
import { createActivities } from '../../activities';
import { loadConfig } from '../../src/config';
import type { DomainError } from '../../src/domain/errors';
import { pinDigest } from '../../src/factors/pin';
import { setPin } from '../../src/factors/enrolment';
import { proofSealer, sealProof, verifyPaymentProof } from '../../src/factors/proofs';
import { startTestApi, TEST_DATA_KEY, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { available, confirm, expectError, initiate, newUserId, PIN, pinProof, testProofDeps, walletUser, type TestUser } from '../helpers/p2p';
import { recordHistory } from '../helpers/histories';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

let db: TestDatabase;
let api: TestApi;
let worker: TestWorker;
beforeAll(async () => {
  db = await freshDatabase();
  const taskQueue = uniqueTaskQueue('proofs');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api.close();
  await worker.stop();
  await db.close();
});

async function transfer(from: TestUser, to: TestUser, amount = '1.50'): Promise<string> {
  const res = await initiate(api, from, { recipient: to.userId, amount });
  expect(res.status).toBe(201);
  return res.body.transfer_id;
}

function deviceKeys(kind: 'ec' | 'rsa') {
  const pair = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair, spki: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

function registerDevice(user: TestUser, deviceId: string, spki: string, algorithm = 'ECDSA_P256', proof: object = {}) {
  return api.call('POST', '/api/v1/wallet/devices/register', {
    token: user.messenger,
    body: { device_id: deviceId, device_name: 'Test phone', platform: 'ios', public_key: { algorithm, format: 'SPKI', key_data: spki }, biometric_capabilities: ['face_id'], ...proof },
  });
}

/** A registered device approving the registration of another: it signs factor:device:<new id>:<user>:<timestamp>. */
function deviceApproval(key: KeyObject, deviceId: string, user: TestUser, newDeviceId: string) {
  const timestamp = new Date().toISOString();
  const signature = sign('sha256', Buffer.from(`factor:device:${newDeviceId}:${user.userId}:${timestamp}`), { key, dsaEncoding: 'ieee-p1363' });
  return { auth_proof: { method: 'biometric', proof: { signature: signature.toString('base64'), device_id: deviceId, timestamp } } };
}

function biometricProof(key: KeyObject, deviceId: string, transferId: string, amount: string, options: { timestamp?: string; encoding?: 'der' | 'ieee-p1363' } = {}) {
  const timestamp = options.timestamp ?? new Date().toISOString();
  const message = `${transferId}:${amount}:USD:${timestamp}`;
  const signature = sign('sha256', Buffer.from(message), key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: options.encoding ?? 'ieee-p1363' } : key);
  return { auth_proof: { method: 'biometric', proof: { signature: signature.toString('base64'), device_id: deviceId, timestamp } } };
}

describe('device registration', () => {
  it('registers an ECDSA P-256 key, answers its hash, and is idempotent for the same key', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const { spki, privateKey } = deviceKeys('ec');
    const first = await registerDevice(alice, 'device_a', spki);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ device_id: 'device_a', registered_at: expect.any(String), status: 'active', public_key_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    const again = await registerDevice(alice, 'device_a', spki, 'ECDSA_P256', deviceApproval(privateKey, 'device_a', alice, 'device_a'));
    expect(again.status).toBe(200);
    expect(again.body.public_key_hash).toBe(first.body.public_key_hash);
    const otherKey = await registerDevice(alice, 'device_a', deviceKeys('ec').spki, 'ECDSA_P256', deviceApproval(privateKey, 'device_a', alice, 'device_a'));
    expectError(otherKey, 409, 'INVALID_STATE', 'device_id');
  });

  it('refuses keys that are not what they claim to be', async () => {
    const alice = await walletUser(api, { name: 'alice' });
    expectError(await registerDevice(alice, 'd1', 'bm90IGEga2V5'), 400, 'INVALID_REQUEST', 'public_key.key_data');
    expectError(await registerDevice(alice, 'd2', deviceKeys('rsa').spki, 'ECDSA_P256'), 400, 'INVALID_REQUEST', 'public_key.key_data');
    expectError(await registerDevice(alice, 'd3', deviceKeys('ec').spki, 'RSA'), 400, 'INVALID_REQUEST', 'public_key.key_data');
    expectError(await registerDevice(alice, 'd4', deviceKeys('ec').spki, 'DSA'), 400, 'INVALID_REQUEST', 'public_key.algorithm');
  });
});

describe('biometric proofs', () => {
  it('accepts a raw or DER ECDSA signature and an RS256 signature over transfer:amount:currency:timestamp', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '50.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const ec = deviceKeys('ec');
    const rsa = deviceKeys('rsa');
    expect((await registerDevice(alice, 'phone', ec.spki)).status).toBe(201);
    // A second device is approved by the first one.
    expect((await registerDevice(alice, 'laptop', rsa.spki, 'RSA', deviceApproval(ec.privateKey, 'phone', alice, 'laptop'))).status).toBe(201);

    const t1 = await transfer(alice, bob, '1.50');
    expect((await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.available_methods).toEqual(['biometric']);
    expect((await confirm(api, alice, t1, biometricProof(ec.privateKey, 'phone', t1, '1.50'))).body.status).toBe('completed');
    const t2 = await transfer(alice, bob, '2');
    expect((await confirm(api, alice, t2, biometricProof(ec.privateKey, 'phone', t2, '2.00', { encoding: 'der' }))).body.status).toBe('completed');
    const t3 = await transfer(alice, bob, '3.25');
    expect((await confirm(api, alice, t3, biometricProof(rsa.privateKey, 'laptop', t3, '3.25'))).body.status).toBe('completed');
    expect(await available(api, bob)).toBe(6.75);
    const view = await api.call('GET', `/api/v1/wallet/p2p/${t3}`, { token: alice.token });
    expect(view.body.auth_method).toBe('biometric');
  });

  it('refuses a wrong key, a stale timestamp, an amount that was not signed and a replayed signature', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '50.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const ec = deviceKeys('ec');
    await registerDevice(alice, 'phone', ec.spki);

    const t1 = await transfer(alice, bob, '1.50');
    const wrongKey = await confirm(api, alice, t1, biometricProof(deviceKeys('ec').privateKey, 'phone', t1, '1.50'));
    expectError(wrongKey, 401, 'INVALID_SIGNATURE');
    expect(wrongKey.body.error.details).toMatchObject({ method: 'biometric', attempts_remaining: 2 });
    const stale = await confirm(api, alice, t1, biometricProof(ec.privateKey, 'phone', t1, '1.50', { timestamp: new Date(Date.now() - 6 * 60_000).toISOString() }));
    expectError(stale, 401, 'INVALID_SIGNATURE');
    expect(stale.body.error.details).toMatchObject({ reason: expect.stringContaining('timestamp'), attempts_remaining: 1 });
    expectError(await confirm(api, alice, t1, biometricProof(ec.privateKey, 'unknown-device', t1, '1.50')), 400, 'DEVICE_NOT_REGISTERED');

    const proof = biometricProof(ec.privateKey, 'phone', t1, '1.50');
    expect((await confirm(api, alice, t1, proof)).body.status).toBe('completed');

    // The same signed message again, on another transfer of the same amount: the transfer id differs, so it fails.
    const t2 = await transfer(alice, bob, '1.50');
    expectError(await confirm(api, alice, t2, proof), 401, 'INVALID_SIGNATURE');
    const tampered = biometricProof(ec.privateKey, 'phone', t2, '150.00');
    expectError(await confirm(api, alice, t2, tampered), 401, 'INVALID_SIGNATURE');
    expect(await available(api, bob)).toBe(1.5);
  });

  it('accepts a signed message once, even on a retry of the same transfer', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '1.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const ec = deviceKeys('ec');
    await registerDevice(alice, 'phone', ec.spki);
    const t1 = await transfer(alice, bob, '2.00');
    const proof = biometricProof(ec.privateKey, 'phone', t1, '2.00');
    // The proof is good but the money is short: the proof is spent and cannot be replayed after a top-up.
    expectError(await confirm(api, alice, t1, proof), 402, 'INSUFFICIENT_FUNDS');
    const replay = await confirm(api, alice, t1, proof);
    expectError(replay, 401, 'INVALID_SIGNATURE');
    expect(replay.body.error.details.reason).toBe('signature was already used');
  });
});

describe('PIN proofs and lockout', () => {
  it('sets a PIN once, changes it only with a proof of the current one, and never stores it', async () => {
    const alice = await walletUser(api, { name: 'alice', pin: false });
    const setPin = (body: unknown) => api.call('POST', '/api/v1/wallet/pin', { token: alice.messenger, body });
    expectError(await setPin({ pin: '12' }), 400, 'INVALID_REQUEST', 'pin');
    expectError(await setPin({ pin: '12a4' }), 400, 'INVALID_REQUEST', 'pin');
    expect((await setPin({ pin: '2580' })).status).toBe(201);
    expectError(await setPin({ pin: '1111' }), 402, 'MFA_REQUIRED', 'auth_proof');
    expectError(await setPin({ pin: '1111', ...pinProof('0000') }), 401, 'INVALID_MFA_CREDENTIALS');
    const changed = await setPin({ pin: '1111', ...pinProof('2580') });
    expect(changed.status).toBe(200);
    const stored = await db.pool.one(sql.type(z.object({ hash: z.instanceof(Buffer), params: z.string() }))`
      SELECT hash, params FROM user_pins WHERE user_id = ${alice.userId}`);
    expect(stored.params).toMatch(/^scrypt:/);
    expect(stored.hash.toString('hex')).not.toContain(Buffer.from('1111').toString('hex'));
    // A PIN would show up as a JSON string value; bare digits also occur inside timestamps and durations.
    expect(api.rawLogs.join('\n')).not.toMatch(/"(1111|2580)"|"pin":/);
  });

  it('ends a transfer as auth_failed after three wrong PINs, answering attempts remaining until then', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00' });
    const bob = await walletUser(api, { name: 'bob' });
    const id = await transfer(alice, bob);
    const first = await confirm(api, alice, id, pinProof('0000'));
    expectError(first, 401, 'INVALID_MFA_CREDENTIALS');
    expect(first.body.error.details).toMatchObject({ method: 'pin', attempts_remaining: 2 });
    expect((await confirm(api, alice, id, pinProof('0001'))).body.error.details.attempts_remaining).toBe(1);
    const third = await confirm(api, alice, id, pinProof('0002'));
    expectError(third, 429, 'MFA_LOCKED');
    expect(third.body.error.details).toMatchObject({ transfer_status: 'auth_failed', attempts_remaining: 0 });
    const view = await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: alice.token });
    expect(view.body).toMatchObject({ status: 'auth_failed', auth_attempts: 3 });
    expect(view.body.status_reason).toBe('too_many_failed_proofs');
    expectError(await confirm(api, alice, id), 409, 'INVALID_STATE');
    expect(await available(api, alice)).toBe(10);
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'auth-failed');
  });

  it('locks the method for the user after five consecutive failures across transfers', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00' });
    const bob = await walletUser(api, { name: 'bob' });
    const a = await transfer(alice, bob);
    const b = await transfer(alice, bob);
    const c = await transfer(alice, bob);
    await confirm(api, alice, a, pinProof('0000'));
    await confirm(api, alice, a, pinProof('0000'));
    await confirm(api, alice, b, pinProof('0000'));
    const fourth = await confirm(api, alice, b, pinProof('0000'));
    expect(fourth.body.error.details.attempts_remaining).toBe(1);
    const fifth = await confirm(api, alice, c, pinProof('0000'));
    expectError(fifth, 429, 'MFA_LOCKED');
    expect(fifth.body.error.details.locked_until).toEqual(expect.any(String));
    const d = await transfer(alice, bob);
    const locked = await confirm(api, alice, d, pinProof());
    expectError(locked, 429, 'MFA_LOCKED');
    expect(await available(api, bob)).toBe(0);
  });

  it('a correct PIN clears earlier failures', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00' });
    const bob = await walletUser(api, { name: 'bob' });
    const a = await transfer(alice, bob);
    await confirm(api, alice, a, pinProof('0000'));
    await confirm(api, alice, a, pinProof('0000'));
    expect((await confirm(api, alice, a)).body.status).toBe('completed');
    const b = await transfer(alice, bob);
    expect((await confirm(api, alice, b, pinProof('0000'))).body.error.details.attempts_remaining).toBe(2);
  });

  it('counts each attempt before checking it: 20 concurrent wrong PINs over 10 pending transfers lock the method after exactly five', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '20.00' });
    const bob = await walletUser(api, { name: 'bob' });
    const ids: string[] = [];
    for (let i = 0; i < 10; i += 1) ids.push(await transfer(alice, bob, '1.00'));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => confirm(api, alice, ids[i % 10]!, pinProof(`90${String(i).padStart(2, '0')}`))));

    // Checked: the answers that say why the PIN failed. The fifth also locked the method.
    const checked = answers.filter((a) => a.body.error?.details?.reason === 'PIN does not match');
    expect(checked.map((a) => a.status).sort()).toEqual([401, 401, 401, 401, 429]);
    // The others were never checked: the method was locked, or another call of that transfer was running.
    for (const other of answers.filter((a) => !checked.includes(a))) {
      expect([`429 MFA_LOCKED`, `409 INVALID_STATE`]).toContain(`${other.status} ${other.body.error?.code}`);
    }
    const counter = await db.pool.one(sql.type(z.object({ failures: z.number(), locked_until: z.date().nullable() }))`
      SELECT failures, locked_until FROM mfa_failures WHERE user_id = ${alice.userId} AND method = 'pin' AND scope = 'ma_demo'`);
    expect(counter.failures).toBe(5);
    expect(counter.locked_until!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    // Even the right PIN waits for the lock to end.
    expectError(await confirm(api, alice, await transfer(alice, bob, '1.00'), pinProof()), 429, 'MFA_LOCKED');
    expect(await available(api, bob)).toBe(0);
  });

  it('locks for longer each time (15 min, 1 h, 24 h), keeps counting across locks, and resets only on a correct PIN', async () => {
    let now = new Date('2026-03-02T10:00:00Z');
    const deps = testProofDeps(db.pool, () => now);
    const userId = newUserId('escalation');
    await setPin(deps, userId, PIN);
    const attempt = (pin: string) =>
      verifyPaymentProof(deps, { userId, scope: 'ma_demo', proof: { method: 'pin', proof: { hashed_pin: pinDigest(pin) } }, signedMessage: () => '', attemptKey: `esc-${pin}` }).then(
        () => 'accepted',
        (err: DomainError) => ({ code: err.code, ...err.details }),
      );
    const later = (ms: number) => (now = new Date(now.getTime() + ms));
    const MINUTE = 60_000;

    for (const remaining of [4, 3, 2, 1]) expect(await attempt('0000')).toMatchObject({ code: 'INVALID_MFA_CREDENTIALS', attempts_remaining: remaining });
    expect(await attempt('0000')).toMatchObject({ code: 'MFA_LOCKED', locked_until: new Date(now.getTime() + 15 * MINUTE).toISOString(), retry_after_seconds: 900 });
    expect(await attempt(PIN)).toMatchObject({ code: 'MFA_LOCKED' });
    // After the lock, one more failure locks again, for longer: the count did not start over.
    later(15 * MINUTE + 1000);
    expect(await attempt('0000')).toMatchObject({ code: 'MFA_LOCKED', locked_until: new Date(now.getTime() + 60 * MINUTE).toISOString() });
    later(60 * MINUTE + 1000);
    expect(await attempt('0000')).toMatchObject({ code: 'MFA_LOCKED', locked_until: new Date(now.getTime() + 24 * 60 * MINUTE).toISOString() });
    later(24 * 60 * MINUTE + 1000);
    expect(await attempt('0000')).toMatchObject({ code: 'MFA_LOCKED', locked_until: new Date(now.getTime() + 24 * 60 * MINUTE).toISOString() });
    later(24 * 60 * MINUTE + 1000);
    expect(await attempt(PIN)).toBe('accepted');
    expect(await attempt('0000')).toMatchObject({ code: 'INVALID_MFA_CREDENTIALS', attempts_remaining: 4 });
  });
});

describe('TOTP proofs', () => {
  function secretOf(uri: string): string {
    return new URL(uri).searchParams.get('secret')!;
  }
  const otpProof = (code: string) => ({ auth_proof: { method: 'otp', proof: { otp_code: code } } });

  it('enrolls once, accepts a current code once, and refuses wrong codes', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const enrolled = await api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger });
    expect(enrolled.status).toBe(201);
    expect(enrolled.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/.*secret=[A-Z2-7]+/);
    const secret = secretOf(enrolled.body.otpauth_uri);
    expectError(await api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger }), 402, 'MFA_REQUIRED', 'auth_proof');
    // The previous 30-second step proves TOTP; the current one stays fresh for the transfer below.
    const previous = await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 30 });
    expectError(await api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger, body: otpProof(previous) }), 409, 'INVALID_STATE');

    const a = await transfer(alice, bob);
    expect((await initiate(api, alice, { recipient: bob.userId, amount: 1 })).body.available_methods).toEqual(['otp']);
    const code = await generate({ secret });
    const wrong = code === '000000' ? '111111' : '000000';
    expectError(await confirm(api, alice, a, otpProof(wrong)), 401, 'INVALID_MFA_CREDENTIALS');
    expect((await confirm(api, alice, a, otpProof(code))).body.status).toBe('completed');
    const b = await transfer(alice, bob);
    const reused = await confirm(api, alice, b, otpProof(code));
    expectError(reused, 401, 'INVALID_MFA_CREDENTIALS');
    expect(reused.body.error.details.reason).toBe('code was already used');
    expect(api.rawLogs.join('\n')).not.toContain(secret);
  });
});

describe('re-running a verification', () => {
  it('accepts the proof of a transfer already settled, even when the one-time code could not pass again', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const enrolled = await api.call('POST', '/api/v1/wallet/totp/enroll', { token: alice.messenger });
    const secret = new URL(enrolled.body.otpauth_uri).searchParams.get('secret')!;
    const code = await generate({ secret });
    const proof = { method: 'otp' as const, proof: { otp_code: code } };
    const settled = await transfer(alice, bob);
    expect((await confirm(api, alice, settled, { auth_proof: proof })).body.status).toBe('completed');
    const pending = await transfer(alice, bob);

    // What a worker does when it runs the workflow task again after losing it past the settlement.
    const key = Buffer.from(TEST_DATA_KEY, 'hex');
    const { verifyP2PProof } = createActivities({ pool: db.pool, log: pino({ level: 'silent' }), matrix: undefined, dataKey: key, lockout: testProofDeps(db.pool).lockout, wallet: loadConfig({ NODE_ENV: 'test' }).wallet, payments: loadConfig({ NODE_ENV: 'test' }).payments, webhookAllowPrivate: true });
    const sealer = proofSealer(key);
    const check = (transferId: string) =>
      verifyP2PProof({ transferId, userId: alice.userId, amountMinor: '150', currency: 'USD', proof: sealProof(sealer, transferId, proof), attemptKey: `${transferId}#9` });
    await expect(check(settled)).resolves.toEqual({ method: 'otp' });
    // The same code on a transfer that has not settled is a second use, and is refused.
    await expect(check(pending)).rejects.toMatchObject({ type: 'INVALID_MFA_CREDENTIALS' });
    // A sealed proof is bound to its transfer.
    await expect(
      verifyP2PProof({ transferId: pending, userId: alice.userId, amountMinor: '150', currency: 'USD', proof: sealProof(sealer, settled, proof), attemptKey: `${pending}#10` }),
    ).rejects.toThrow();
  });
});

describe('lockouts are scoped to who caused them', () => {
  /** A TEP of the same user issued to another mini-app. */
  const viaShop = async (user: TestUser) => ({ ...user, token: await api.token(user.userId, ['wallet:balance', 'wallet:pay', 'wallet:history'], 'ma_shop_001') });

  it("one mini-app's bad signatures lock the device key for that app only; the user's other apps still use it", async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '50.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const ec = deviceKeys('ec');
    await registerDevice(alice, 'phone', ec.spki);
    const forged = () => ({ auth_proof: { method: 'biometric', proof: { signature: Buffer.alloc(64, 7).toString('base64'), device_id: 'phone', timestamp: new Date().toISOString() } } });
    // ma_demo sends five bad signatures over two of its transfers: locked, for ma_demo.
    const a = await transfer(alice, bob, '1.00');
    const b = await transfer(alice, bob, '1.00');
    for (const id of [a, a, b, b]) expectError(await confirm(api, alice, id, forged()), 401, 'INVALID_SIGNATURE');
    const c = await transfer(alice, bob, '1.00');
    expectError(await confirm(api, alice, c, forged()), 429, 'MFA_LOCKED');
    const d = await transfer(alice, bob, '1.00');
    expectError(await confirm(api, alice, d, biometricProof(ec.privateKey, 'phone', d, '1.00')), 429, 'MFA_LOCKED');
    // The shop, another app of the same user, is not locked out by them.
    const shop = await viaShop(alice);
    const e = await transfer(shop, bob, '2.00');
    expect((await confirm(api, shop, e, biometricProof(ec.privateKey, 'phone', e, '2.00'))).body.status).toBe('completed');
    // Nor can another app spend this app's transfers' attempts: it cannot confirm them at all.
    expectError(await confirm(api, shop, d, biometricProof(ec.privateKey, 'phone', d, '1.00')), 403, 'INSUFFICIENT_PERMISSIONS');
    expect(await available(api, bob)).toBe(2);
  });

  it('the wallet-wide lock needs failures across apps: past its threshold the method is locked everywhere, for a window', async () => {
    let now = new Date('2026-05-04T09:00:00Z');
    const policy = { threshold: 5, scheduleMs: [15 * 60_000], wallet: { threshold: 4, windowMs: 24 * 3_600_000 } };
    const deps = { ...testProofDeps(db.pool, () => now), lockout: policy };
    const userId = newUserId('wallet-wide');
    await setPin(deps, userId, PIN);
    const attempt = (scope: string, pin: string) =>
      verifyPaymentProof(deps, { userId, scope, proof: { method: 'pin', proof: { hashed_pin: pinDigest(pin) } }, signedMessage: () => '', attemptKey: `${scope}-${pin}-${now.getTime()}` }).then(
        () => 'accepted',
        (err: DomainError) => err.code,
      );
    expect(await attempt('ma_one', '0000')).toBe('INVALID_MFA_CREDENTIALS');
    expect(await attempt('ma_one', '0001')).toBe('INVALID_MFA_CREDENTIALS');
    expect(await attempt('ma_two', '0002')).toBe('INVALID_MFA_CREDENTIALS');
    // The fourth failure across apps locks the PIN for every app, the right one included.
    expect(await attempt('ma_three', '0003')).toBe('MFA_LOCKED');
    expect(await attempt('ma_four', PIN)).toBe('MFA_LOCKED');
    now = new Date(now.getTime() + 24 * 3_600_000 + 1000);
    expect(await attempt('ma_four', PIN)).toBe('accepted');
  });

  it('a signature of the wrong length or encoding is not a guess: refused as bad input and not counted', async () => {
    const alice = await walletUser(api, { name: 'alice', fund: '10.00', pin: false });
    const bob = await walletUser(api, { name: 'bob' });
    const ec = deviceKeys('ec');
    await registerDevice(alice, 'phone', ec.spki);
    const id = await transfer(alice, bob, '1.00');
    const withSignature = (signature: string) => ({ auth_proof: { method: 'biometric', proof: { signature, device_id: 'phone', timestamp: new Date().toISOString() } } });
    for (const malformed of [Buffer.alloc(10).toString('base64'), Buffer.alloc(200).toString('base64'), 'AAAA=AAA', 'QUJD']) {
      expectError(await confirm(api, alice, id, withSignature(malformed)), 400, 'INVALID_REQUEST', 'signature');
    }
    const forged = await confirm(api, alice, id, withSignature(Buffer.alloc(64, 1).toString('base64')));
    expectError(forged, 401, 'INVALID_SIGNATURE');
    // The first attempt the transfer and the lockout count: of three for the transfer, of five for the app.
    expect(forged.body.error.details.attempts_remaining).toBe(2);
    const counted = await db.pool.oneFirst(sql.type(z.object({ failures: z.number() }))`
      SELECT failures FROM mfa_failures WHERE user_id = ${alice.userId} AND method = 'biometric' AND scope = 'ma_demo'`);
    expect(counted).toBe(1);
    expect((await confirm(api, alice, id, biometricProof(ec.privateKey, 'phone', id, '1.00'))).body.status).toBe('completed');
  });
});
