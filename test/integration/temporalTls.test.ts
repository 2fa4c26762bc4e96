import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../src/config';
import { createTemporal } from '../../src/temporal/client';
import { temporalConnectionOptions, type TlsFiles } from '../../src/temporal/connection';
import { testEnv } from '../setup/env';

/**
 * Temporal behind TLS, as a secured cluster or Temporal Cloud is: a TLS front (mutual TLS, HTTP/2)
 * before the run's dev server, which has no TLS of its own. The API's client and the worker's
 * native connection reach it with the TEMPORAL_TLS_* files, and are refused without a client
 * certificate or with another CA.
 */
let dir: string;
let front: Server;
let frontAddress: string;
const file = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, and a certificate it signs for `cn` with the given extensions. */
function issue(cn: string, ext: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`);
  writeFileSync(file(`${cn}.ext`), ext);
  openssl('x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${cn}.pem`, '-days', '1', '-extfile', `${cn}.ext`);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tmcp-tls-'));
  for (const ca of ['ca', 'other-ca']) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=tmcp test ${ca}`);
  }
  issue('localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('tmcp-worker', 'extendedKeyUsage=clientAuth\n');

  const [host, port] = testEnv('temporalAddress').split(':');
  front = createServer(
    { key: readFileSync(file('localhost.key')), cert: readFileSync(file('localhost.pem')), ca: readFileSync(file('ca.pem')), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (socket) => {
      const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host!);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    },
  );
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  frontAddress = `127.0.0.1:${(front.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => front?.close(resolve));
});

const files = (): TlsFiles => ({ certFile: file('tmcp-worker.pem'), keyFile: file('tmcp-worker.key'), caFile: file('ca.pem'), serverName: 'localhost' });

test("the API's client reaches Temporal through mutual TLS, and is refused without a client certificate or with another CA", async () => {
  const secured = createTemporal({ address: frontAddress, namespace: 'default', taskQueue: 'tls', tls: files() });
  try {
    expect(await secured.isReachable(5000)).toBe(true);
    const described = await secured.client.workflowService.describeNamespace({ namespace: 'default' });
    expect(described.namespaceInfo?.name).toBe('default');
  } finally {
    await secured.close();
  }
  for (const tls of [{ caFile: file('ca.pem'), serverName: 'localhost' }, { ...files(), caFile: file('other-ca.pem') }]) {
    const refused = createTemporal({ address: frontAddress, namespace: 'default', taskQueue: 'tls', tls });
    expect(await refused.isReachable(3000)).toBe(false);
    await refused.close();
  }
});

test("the worker's native connection takes the same settings", async () => {
  const connection = await NativeConnection.connect(temporalConnectionOptions({ address: frontAddress, tls: files() }));
  try {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toEqual(expect.any(String));
  } finally {
    await connection.close();
  }
  // Without the client certificate the front refuses the handshake.
  await expect(NativeConnection.connect(temporalConnectionOptions({ address: frontAddress, tls: { caFile: file('ca.pem'), serverName: 'localhost' } }))).rejects.toThrow();
});

test('the settings: files make TLS, an API key makes TLS and a bearer token, and half a certificate pair is refused', () => {
  const config = loadConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key-123' });
  expect(config.temporal).toMatchObject({ tls: {}, apiKey: 'key-123' });
  expect(temporalConnectionOptions({ address: 'ns.tmprl.cloud:7233', tls: config.temporal.tls, apiKey: 'key-123' })).toEqual({ address: 'ns.tmprl.cloud:7233', tls: true, apiKey: 'key-123' });
  const mutual = loadConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CERT: file('tmcp-worker.pem'), TEMPORAL_TLS_KEY: file('tmcp-worker.key'), TEMPORAL_TLS_CA: file('ca.pem') });
  const options = temporalConnectionOptions({ address: 'temporal:7233', tls: mutual.temporal.tls });
  expect(options.tls).toMatchObject({ clientCertPair: { crt: readFileSync(file('tmcp-worker.pem')) }, serverRootCACertificate: readFileSync(file('ca.pem')) });
  expect(loadConfig({ NODE_ENV: 'test' }).temporal.tls).toBeUndefined();
  expect(() => loadConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CERT: file('tmcp-worker.pem') })).toThrow(ConfigError);
  expect(() => loadConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CA: file('missing.pem') })).toThrow(/no file/);
});
