import { decodeJwt } from 'jose';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { startMasStandIn, type MasStandIn } from '../helpers/masStandIn';

/**
 * MATRIX_AUTH_MODE=mas: users' Matrix tokens are checked by RFC 7662 introspection at the Matrix
 * Authentication Service, here oidc-provider standing in for it (tokens it issued, introspected
 * with this server's client credentials).
 */
let db: TestDatabase;
let api: TestApi;
let mas: MasStandIn;
beforeAll(async () => {
  db = await freshDatabase();
  mas = await startMasStandIn();
  api = await startTestApi(db, {
    MATRIX_AUTH_MODE: 'mas',
    MAS_INTROSPECTION_URL: mas.introspectionUrl,
    MAS_CLIENT_ID: mas.clientId,
    MAS_CLIENT_SECRET: mas.clientSecret,
    MATRIX_SERVER_NAME: 'tmcp.test',
  });
});
afterAll(async () => {
  await api?.close();
  await mas?.close();
  await db?.close();
});

const exchange = (subjectToken: string) =>
  api.call('POST', '/api/v1/oauth/token', {
    raw: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: 'ma_shop_001',
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });

let n = 0;
const user = () => {
  n += 1;
  return { sub: `01HMASUSER${n}${Date.now()}`, username: `mas_user${n}` };
};

test("a MAS token is introspected and exchanged for a TEP of the user it names", async () => {
  const who = user();
  const res = await exchange(await mas.mint(who));
  expect(res.status).toBe(200);
  expect(res.body.user_id).toBe(`@${who.username}:tmcp.test`);
  expect(decodeJwt(String(res.body.access_token).slice(4)).sub).toBe(`@${who.username}:tmcp.test`);
  // The messenger's own calls take the same token.
  const token = await mas.mint(who);
  const consents = await api.call('GET', '/api/v1/oauth/consent', { token });
  expect(consents.status).toBe(200);
  expect(consents.body.user_id).toBe(`@${who.username}:tmcp.test`);
});

test('a token MAS does not know, or one that expired, is refused', async () => {
  // A token MAS issued for something else (an openid-only login) is not a messenger's session.
  const openidOnly = await mas.mint({ ...user(), scope: 'openid' });
  expect((await api.call('GET', '/api/v1/oauth/consent', { token: openidOnly })).status).toBe(401);
  const bogus = await exchange('mas_not_a_token');
  expect(bogus.status).toBe(401);
  expect(bogus.body).toEqual({ error: 'invalid_grant', error_description: 'Matrix token is invalid or expired' });
  const token = await mas.mint({ ...user(), expiresIn: 1 });
  expect((await api.call('GET', '/api/v1/oauth/consent', { token })).status).toBe(200);
  // Cached while valid, never past its expiry.
  await new Promise((r) => setTimeout(r, 1500));
  const late = await api.call('GET', '/api/v1/oauth/consent', { token });
  expect(late.status).toBe(401);
  expect(late.body.error.code).toBe('INVALID_TOKEN');
});

test('MAS unreachable: 503 with Retry-After, never a 500', async () => {
  const token = await mas.mint(user());
  await mas.close();
  const res = await api.call('GET', '/api/v1/oauth/consent', { token });
  expect(res.status).toBe(503);
  expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  const exchanged = await exchange(token);
  expect(exchanged.status).toBe(503);
  expect(exchanged.body.error).toBe('temporarily_unavailable');
});
