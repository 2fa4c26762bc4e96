import { sql } from 'slonik';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { startStubHomeserver, stubMatrixEnv, type StubHomeserver } from '../helpers/stubHomeserver';

/** TRUST_PROXY: behind a TLS-terminating proxy, the client's address and scheme come from the proxy's headers, and only from a trusted one. */
let db: TestDatabase;
let hs: StubHomeserver;
beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
});
afterAll(async () => {
  await hs.close();
  await db.close();
});

const FORWARDED = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };

/** What an API with `trustProxy` makes of a request forwarded by a proxy on loopback: the address a wrong user code is counted against, and whether the page cookie is Secure. */
async function seenBy(trustProxy: string | undefined, name: string) {
  const api: TestApi = await startTestApi(db, { ...stubMatrixEnv(hs, name), ...(trustProxy ? { TRUST_PROXY: trustProxy } : {}) });
  try {
    await db.pool.query(sql.unsafe`DELETE FROM user_code_lookups`);
    await api.call('GET', '/api/v1/oauth2/device?user_code=BCDF-GHJK', { headers: FORWARDED });
    const addresses = await db.pool.anyFirst(sql.type(z.object({ address: z.string() }))`SELECT address FROM user_code_lookups`);
    const sso = await fetch(`${api.url}/api/v1/oauth/signin/sso?return_to=/api/v1/oauth2/device`, { headers: FORWARDED, redirect: 'manual' });
    return { addresses, cookie: sso.headers.get('set-cookie') ?? '' };
  } finally {
    await api.close();
  }
}

test('with TRUST_PROXY naming the proxy, X-Forwarded-For gives the client address and X-Forwarded-Proto makes the cookies Secure', async () => {
  const trusted = await seenBy('loopback', 'proxy-trusted');
  expect(trusted.addresses).toEqual(['203.0.113.7']);
  expect(trusted.cookie).toMatch(/tmcp_sso=[^;]+;.*secure/i);
  const byHops = await seenBy('1', 'proxy-hops');
  expect(byHops.addresses).toEqual(['203.0.113.7']);
});

test('without TRUST_PROXY, or from a peer that is not a trusted proxy, the forwarding headers are ignored', async () => {
  for (const trust of [undefined, '10.0.0.0/8']) {
    const seen = await seenBy(trust, `proxy-${trust ?? 'none'}`);
    expect(seen.addresses).toHaveLength(1);
    expect(seen.addresses[0]).toMatch(/127\.0\.0\.1$/);
    expect(seen.cookie).toMatch(/tmcp_sso=/);
    expect(seen.cookie).not.toMatch(/secure/i);
  }
});
