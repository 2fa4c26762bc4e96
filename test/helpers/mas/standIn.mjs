// A stand-in for the Matrix Authentication Service: the certified OAuth server oidc-provider, run
// in its own process (it is ESM-only), with RFC 7662 introspection for the TMCP server's client.
// A test route mints access tokens for users, as MAS does when a messenger signs in.
// Usage: node standIn.mjs <introspecting client secret>; prints {"url": ...} once listening.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const [secret] = process.argv.slice(2);
const MATRIX_API_SCOPE = 'urn:matrix:org.matrix.msc2967.client:api:*';

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(url, {
  clients: [
    { client_id: 'tmcp', client_secret: secret, grant_types: [], response_types: [], redirect_uris: [] },
    { client_id: 'messenger', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['http://127.0.0.1/cb'] },
  ],
  scopes: ['openid', MATRIX_API_SCOPE],
  features: {
    devInteractions: { enabled: false },
    // The TMCP server introspects tokens issued to the messenger, as it does at MAS.
    introspection: { enabled: true, allowedPolicy: async () => true },
  },
  // MAS answers the Matrix localpart as `username` beside its own subject id.
  extraTokenClaims: async (_ctx, token) => (token.extra ? token.extra : undefined),
});

const mint = async (body) => {
  const client = await provider.Client.find('messenger');
  const token = new provider.AccessToken({ accountId: body.sub, client, scope: body.scope ?? `openid ${MATRIX_API_SCOPE}`, expiresIn: body.expires_in ?? 3600 });
  token.extra = { username: body.username };
  return token.save();
};

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/test/mint') {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', async () => {
      const token = await mint(JSON.parse(raw));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token }));
    });
    return;
  }
  callback(req, res);
});
process.stdout.write(`${JSON.stringify({ url, introspection_endpoint: `${url}/token/introspection` })}\n`);
