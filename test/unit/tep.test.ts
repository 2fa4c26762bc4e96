import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { generateTepJwk, loadTepKeys } from '../../src/auth/keys';
import { cachedTepVerifier, issueTep, verifyTep } from '../../src/auth/tep';
import { writeKeySet } from '../helpers/keys';

const ISSUER = 'https://tmcp.example';
const subject = { userId: '@alice:tween.example', clientId: 'ma_shop_001', scopes: ['wallet:pay', 'user:read'], walletId: 'tw_abc' };

test('issues an RS256 TEP with the tep. prefix, a kid and every required claim', async () => {
  const jwk = await generateTepJwk();
  const keys = await loadTepKeys(await writeKeySet([jwk]));
  const now = new Date('2026-01-01T00:00:00Z');
  const { token, jti, expiresAt } = await issueTep(keys, { issuer: ISSUER, ttlSeconds: 900, now }, subject);
  expect(token.startsWith('tep.')).toBe(true);
  const jwt = token.slice(4);
  expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'RS256', typ: 'JWT', kid: jwk.kid });
  // An independent verifier that knows only the published JWKS accepts it.
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(keys.jwks), { issuer: ISSUER, currentDate: now });
  expect(payload).toMatchObject({
    iss: ISSUER,
    sub: subject.userId,
    aud: subject.clientId,
    iat: now.getTime() / 1000,
    nbf: now.getTime() / 1000,
    exp: now.getTime() / 1000 + 900,
    jti,
    token_type: 'tep_access_token',
    client_id: subject.clientId,
    azp: subject.clientId,
    scope: 'wallet:pay user:read',
    wallet_id: 'tw_abc',
    session_id: expect.stringMatching(/^ses_/),
  });
  expect(expiresAt.toISOString()).toBe('2026-01-01T00:15:00.000Z');
  const verified = await verifyTep(keys, token, { issuer: ISSUER, now });
  expect(verified.userId).toBe(subject.userId);
  expect([...verified.scopes]).toEqual(['wallet:pay', 'user:read']);
});

test('the published key set carries no private key material', async () => {
  const keys = await loadTepKeys(await writeKeySet([await generateTepJwk()]));
  for (const key of keys.jwks.keys) {
    expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  }
});

test('rejects expired, not-yet-valid, foreign-issuer, unprefixed and tampered tokens', async () => {
  const keys = await loadTepKeys(await writeKeySet([await generateTepJwk()]));
  const now = new Date('2026-01-01T00:00:00Z');
  const { token } = await issueTep(keys, { issuer: ISSUER, ttlSeconds: 60, now }, subject);
  const invalid = { code: 'INVALID_TOKEN' };
  await expect(verifyTep(keys, token, { issuer: ISSUER, now: new Date('2026-01-01T00:01:10Z') })).rejects.toMatchObject(invalid);
  await expect(verifyTep(keys, token, { issuer: ISSUER, now: new Date('2025-12-31T23:59:00Z') })).rejects.toMatchObject(invalid);
  await expect(verifyTep(keys, token, { issuer: 'https://other.example', now })).rejects.toMatchObject(invalid);
  await expect(verifyTep(keys, token.slice(4), { issuer: ISSUER, now })).rejects.toMatchObject(invalid);
  const [h, p, s] = token.slice(4).split('.');
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'wallet:pay wallet:balance' })).toString('base64url');
  await expect(verifyTep(keys, `tep.${h}.${tamperedPayload}.${s}`, { issuer: ISSUER, now })).rejects.toMatchObject(invalid);
});

test('rejects a token signed by a key outside the set, and a token of another type', async () => {
  const keys = await loadTepKeys(await writeKeySet([await generateTepJwk()]));
  const other = await loadTepKeys(await writeKeySet([await generateTepJwk()]));
  const { token } = await issueTep(other, { issuer: ISSUER, ttlSeconds: 60 }, subject);
  await expect(verifyTep(keys, token, { issuer: ISSUER })).rejects.toMatchObject({ code: 'INVALID_TOKEN' });

  const refresh = await new SignJWT({ token_type: 'refresh_token', client_id: 'ma_x', azp: 'ma_x', scope: '', wallet_id: null, session_id: 's' })
    .setProtectedHeader({ alg: 'RS256', kid: keys.signing.kid })
    .setIssuer(ISSUER).setSubject('@a:b').setAudience('ma_x').setIssuedAt().setNotBefore('0s').setExpirationTime('1m').setJti('j')
    .sign(keys.signing.key);
  await expect(verifyTep(keys, `tep.${refresh}`, { issuer: ISSUER })).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
});

test('after a rotation, tokens signed with the previous key still verify and new ones use the new key', async () => {
  const oldJwk = await generateTepJwk();
  const before = await loadTepKeys(await writeKeySet([oldJwk]));
  const { token: oldToken } = await issueTep(before, { issuer: ISSUER, ttlSeconds: 600 }, subject);

  const newJwk = await generateTepJwk();
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...oldPublic } = oldJwk;
  const after = await loadTepKeys(await writeKeySet([newJwk, oldPublic]));
  await expect(verifyTep(after, oldToken, { issuer: ISSUER })).resolves.toMatchObject({ userId: subject.userId });
  const { token: newToken } = await issueTep(after, { issuer: ISSUER, ttlSeconds: 600 }, subject);
  expect(decodeProtectedHeader(newToken.slice(4)).kid).toBe(newJwk.kid);
  expect(after.jwks.keys.map((k) => k.kid)).toEqual([newJwk.kid, oldJwk.kid]);
});

test('a key set whose first key has no private part is refused', async () => {
  const { d: _d, ...publicOnly } = await generateTepJwk();
  await expect(loadTepKeys(await writeKeySet([publicOnly]))).rejects.toThrow(/private part/);
});

test('the API verifier remembers a good token until it expires, and never a bad one', async () => {
  const keys = await loadTepKeys(await writeKeySet([await generateTepJwk()]));
  let now = new Date('2026-01-01T00:00:00Z');
  const verify = cachedTepVerifier(keys, ISSUER, () => now, 2);
  const { token } = await issueTep(keys, { issuer: ISSUER, ttlSeconds: 60, now }, subject);
  const first = await verify(token);
  expect(await verify(token)).toBe(first); // the remembered result, not a second check
  const [h, p, s] = token.slice(4).split('.');
  const tampered = `tep.${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: '@mallory:tween.example' })).toString('base64url')}.${s}`;
  await expect(verify(tampered)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  await expect(verify(tampered)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  now = new Date('2026-01-01T00:01:04Z'); // within the 5 s tolerance of exp
  expect((await verify(token)).userId).toBe(subject.userId);
  now = new Date('2026-01-01T00:01:10Z');
  await expect(verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });

  // Bounded: with room for two, the least recently used of three is checked again.
  now = new Date('2026-01-01T00:02:00Z');
  const tokens = await Promise.all([1, 2, 3].map(async () => (await issueTep(keys, { issuer: ISSUER, ttlSeconds: 60, now }, subject)).token));
  const results = [];
  for (const t of tokens) results.push(await verify(t));
  expect(await verify(tokens[2]!)).toBe(results[2]);
  expect(await verify(tokens[0]!)).not.toBe(results[0]);
});
