import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { decodeJwt } from 'jose';
import { sql } from 'slonik';
import { z } from 'zod';
import { sha256Hex } from '../../src/crypto/secrets';
import { deviceGrantByDeviceCode } from '../../src/db/deviceGrants';
import { purgeOAuthLeftovers } from '../../src/db/oauth';
import { startTestApi, type TestApi } from '../helpers/api';
import type { TestDatabase } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/timeSkipping';
import { startStubHomeserver, stubMatrixEnv, stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * The Device Authorization Grant (RFC 8628) through the HTTP API, its `device-<id>` workflow on the
 * time-skipping test server: 15 minutes of expiry and the polling interval pass in moments, so
 * slow_down and expired_token are tested as the device meets them.
 */
let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: TestDatabase;
let api: TestApi;
let hs: StubHomeserver;
beforeAll(async () => {
  hs = await startStubHomeserver();
  stack = await startTimeSkippingStack('device');
  ({ env, db } = stack);
  api = await startTestApi(db, { ...stubMatrixEnv(hs, 'device'), TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue }, { temporal: stack.temporal });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.stop();
  await hs?.close();
});

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  api.call('POST', path, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

async function newCodes(clientId = 'ma_shop_001', scope = 'user:read wallet:balance') {
  const res = await form('/api/v1/oauth2/device/authorization', { client_id: clientId, scope });
  expect(res.status).toBe(200);
  return res.body as { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number };
}

const poll = (deviceCode: string, clientId = 'ma_shop_001') => form('/api/v1/oauth/token', { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });
/** Lets more than the polling interval pass on the workflow clock. */
const waitInterval = (seconds = 5) => env.sleep(seconds * 1000 + 1000);
const decide = (token: string, userCode: string, decision: 'approve' | 'deny') =>
  api.call('POST', '/api/v1/oauth2/device/approve', { token, body: { user_code: userCode, decision } });

describe('device authorization grant', () => {
  it('issues codes, answers pending until the messenger approves, then the tokens exactly once', async () => {
    const alice = stubSession(hs, 'alice');
    const codes = await newCodes();
    expect(codes).toEqual({
      device_code: expect.stringMatching(/^dc_/),
      user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
      verification_uri: 'http://tmcp.test/api/v1/oauth2/device',
      verification_uri_complete: `http://tmcp.test/api/v1/oauth2/device?user_code=${codes.user_code}`,
      expires_in: 900,
      interval: 5,
    });

    const pending = await poll(codes.device_code);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');
    expect(pending.headers.get('cache-control')).toBe('no-store');

    // Typed as a person would: lower case, no dash.
    const approved = await decide(alice.token, codes.user_code.toLowerCase().replace('-', ''), 'approve');
    expect(approved.status).toBe(200);
    expect(approved.body).toEqual({ status: 'approved', client_id: 'ma_shop_001', client_name: 'Demo Shop', scopes: ['user:read', 'wallet:balance'] });
    // The same answer again (a retry) gets the first one's outcome; another answer is refused.
    expect((await decide(alice.token, codes.user_code, 'approve')).body.status).toBe('approved');
    const again = await decide(alice.token, codes.user_code, 'deny');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');

    await waitInterval();
    const tokens = await poll(codes.device_code);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.stringMatching(/^rt_/),
      scope: 'user:read wallet:balance',
      user_id: alice.userId,
      wallet_id: expect.stringMatching(/^tw_/),
    });
    expect(decodeJwt(String(tokens.body.access_token).slice('tep.'.length))).toMatchObject({ sub: alice.userId, client_id: 'ma_shop_001', wallet_id: tokens.body.wallet_id });
    expect((await api.call('GET', '/api/v1/wallet/balance', { token: tokens.body.access_token })).status).toBe(200);

    // Redeemed once: the workflow has closed, and its result answers.
    await waitInterval();
    const second = await poll(codes.device_code);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');

    // The approval is the user's consent: a later token exchange grants wallet:balance without asking.
    const consents = await api.call('GET', '/api/v1/oauth/consent', { token: alice.token });
    expect(consents.body.consents).toEqual([expect.objectContaining({ client_id: 'ma_shop_001', scopes: expect.arrayContaining(['user:read', 'wallet:balance']) })]);
    await recordHistory(env.client, `device-${await grantIdOf(codes.device_code)}`, 'device', 'redeemed');
  });

  it('an approval whose tokens could not be written is not lost: the next poll redeems it, once', async () => {
    const frank = stubSession(hs, 'frank');
    const codes = await newCodes();
    expect((await decide(frank.token, codes.user_code, 'approve')).body.status).toBe('approved');
    // PostgreSQL refuses the first session the API writes from now on (a failure after the workflow answered).
    await db.pool.query(sql.unsafe`CREATE SEQUENCE fail_first_session`);
    await db.pool.query(sql.unsafe`
      CREATE FUNCTION fail_first_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('fail_first_session') = 1 THEN RAISE EXCEPTION 'the database went away'; END IF;
        RETURN NEW;
      END $$`);
    await db.pool.query(sql.unsafe`CREATE TRIGGER fail_first_session BEFORE INSERT ON oauth_sessions FOR EACH ROW EXECUTE FUNCTION fail_first_session()`);
    try {
      await waitInterval();
      const failed = await poll(codes.device_code);
      expect([failed.status, failed.body.error]).toEqual([503, 'temporarily_unavailable']);
      await waitInterval();
      const tokens = await poll(codes.device_code);
      expect(tokens.status).toBe(200);
      expect(tokens.body).toMatchObject({ user_id: frank.userId, scope: 'user:read wallet:balance', refresh_token: expect.stringMatching(/^rt_/) });
      expect((await api.call('GET', '/api/v1/wallet/balance', { token: tokens.body.access_token })).status).toBe(200);
      // And exactly once.
      await waitInterval();
      expect((await poll(codes.device_code)).body.error).toBe('invalid_grant');
      const sessions = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM oauth_sessions WHERE user_id = ${frank.userId}`);
      expect(sessions).toBe(1);
    } finally {
      await db.pool.query(sql.unsafe`DROP TRIGGER fail_first_session ON oauth_sessions`);
      await db.pool.query(sql.unsafe`DROP FUNCTION fail_first_session()`);
      await db.pool.query(sql.unsafe`DROP SEQUENCE fail_first_session`);
    }
  });

  it('tells a device polling too fast to slow down, and adds 5 seconds to its interval each time', async () => {
    const codes = await newCodes();
    expect((await poll(codes.device_code)).body.error).toBe('authorization_pending');
    const fast = await poll(codes.device_code);
    expect(fast.body).toMatchObject({ error: 'slow_down', interval: 10 });
    // The interval is now 10 seconds: 6 seconds later is still too soon.
    await env.sleep(6_000);
    expect((await poll(codes.device_code)).body).toMatchObject({ error: 'slow_down', interval: 15 });
    await waitInterval(15);
    expect((await poll(codes.device_code)).body.error).toBe('authorization_pending');
  });

  it('expires after 15 minutes: the device gets expired_token and the code can no longer be approved', async () => {
    const bob = stubSession(hs, 'bob');
    const codes = await newCodes();
    await env.sleep(901_000);
    const expired = await poll(codes.device_code);
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('expired_token');
    const late = await decide(bob.token, codes.user_code, 'approve');
    expect(late.status).toBe(400);
    expect(late.body.error).toMatchObject({ code: 'INVALID_REQUEST', details: { field: 'user_code' } });
    await recordHistory(env.client, `device-${await grantIdOf(codes.device_code)}`, 'device', 'expired');
  });

  it('answers access_denied once the user denies, and keeps answering it', async () => {
    const carol = stubSession(hs, 'carol');
    const codes = await newCodes();
    expect((await decide(carol.token, codes.user_code, 'deny')).body.status).toBe('denied');
    expect((await poll(codes.device_code)).body.error).toBe('access_denied');
    await waitInterval();
    expect((await poll(codes.device_code)).body.error).toBe('access_denied');
    await recordHistory(env.client, `device-${await grantIdOf(codes.device_code)}`, 'device', 'denied');
  });

  it('refuses bad requests with the RFC 6749 and RFC 8628 errors', async () => {
    const unknown = await form('/api/v1/oauth2/device/authorization', { client_id: 'ma_nobody', scope: 'user:read' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
    const scope = await form('/api/v1/oauth2/device/authorization', { client_id: 'ma_shop_001', scope: 'user:read room:create' });
    expect(scope.status).toBe(400);
    expect(scope.body).toMatchObject({ error: 'invalid_scope', error_description: expect.stringContaining('room:create') });
    expect((await form('/api/v1/oauth2/device/authorization', { client_id: 'ma_shop_001', scope: 'a', extra: 'x' })).body.error).toBe('invalid_scope');

    const codes = await newCodes();
    expect((await form('/api/v1/oauth2/device/token', { client_id: 'ma_shop_001' })).body).toMatchObject({ error: 'invalid_request', error_description: 'device_code is required' });
    expect((await form('/api/v1/oauth2/device/token', { client_id: 'ma_shop_001', device_code: 'dc_guess' })).body.error).toBe('invalid_grant');
    // Another client's device code is no code at all for this one.
    expect((await poll(codes.device_code, 'ma_demo')).body.error).toBe('invalid_grant');
    expect((await form('/api/v1/oauth2/device/token', { grant_type: 'password', client_id: 'ma_shop_001', device_code: codes.device_code })).body.error).toBe('unsupported_grant_type');
    // The original README's route answers as the token endpoint does.
    expect((await form('/api/v1/oauth2/device/token', { client_id: 'ma_shop_001', device_code: codes.device_code })).body.error).toBe('authorization_pending');

    const dave = stubSession(hs, 'dave');
    const badDecision = await api.call('POST', '/api/v1/oauth2/device/approve', { token: dave.token, body: { user_code: codes.user_code, decision: 'maybe' } });
    expect(badDecision.status).toBe(400);
    expect(badDecision.body.error.details).toMatchObject({ field: 'decision' });
    // Only a messenger: a mini-app's TEP cannot approve a grant for its user.
    const tep = await api.token(dave.userId, ['user:read']);
    expect((await decide(tep, codes.user_code, 'approve')).status).toBe(403);
    expect((await decide('syt_not_a_session', codes.user_code, 'approve')).status).toBe(401);
  });

  it('the sweeper purges grants a day past their expiry, and keeps the live ones', async () => {
    const old = await newCodes();
    const live = await newCodes();
    const oldId = await grantIdOf(old.device_code);
    await db.pool.query(sql.unsafe`UPDATE device_grants SET expires_at = now() - interval '25 hours' WHERE id = ${oldId}`);
    expect(await purgeOAuthLeftovers(db.pool)).toBeGreaterThanOrEqual(1);
    expect(await deviceGrantByDeviceCode(db.pool, sha256Hex(old.device_code))).toBeNull();
    expect(await deviceGrantByDeviceCode(db.pool, sha256Hex(live.device_code))).not.toBeNull();
  });

  // Last: the limit is per client address, and every request here comes from 127.0.0.1.
  it('rate limits wrong user codes per client address', async () => {
    const erin = stubSession(hs, 'erin');
    const codes = await newCodes();
    const answers = [];
    for (let i = 0; i < 10; i += 1) answers.push((await decide(erin.token, 'BBBB-BBBB', 'approve')).status);
    expect(answers).toEqual(Array(10).fill(400));
    // Now even the right code is refused from this address.
    const limited = await decide(erin.token, codes.user_code, 'approve');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
  });
});

async function grantIdOf(deviceCode: string): Promise<string> {
  return (await deviceGrantByDeviceCode(db.pool, sha256Hex(deviceCode)))!.id;
}
