import { readFileSync } from 'node:fs';
import type { Config } from '../config';

/** How the API and the worker reach Temporal: a plain dev server, a secured cluster (mTLS), or Temporal Cloud (mTLS or an API key). */
export type TemporalConnectionConfig = Pick<Config['temporal'], 'address' | 'tls' | 'apiKey'>;

export interface TlsFiles {
  /** PEM files: the client's certificate and key (mTLS), and the CA that signed the server's certificate (else the system's roots). */
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** The name the server's certificate is checked against, when not the address's host. */
  serverName?: string;
}

export interface ConnectionOptionsLike {
  address: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } } | boolean;
  apiKey?: string;
}

/**
 * The options both SDK connections take (the client's Connection and the worker's
 * NativeConnection): TLS when any TLS setting or an API key is given (Temporal Cloud wants TLS with
 * either), the files read once here.
 */
export function temporalConnectionOptions(settings: { address: string; tls?: TlsFiles; apiKey?: string }): ConnectionOptionsLike {
  const tls = settings.tls;
  const read = (file: string) => readFileSync(file);
  const wantsTls = tls !== undefined || settings.apiKey !== undefined;
  const tlsOptions =
    tls === undefined
      ? undefined
      : {
          ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          ...(tls.caFile ? { serverRootCACertificate: read(tls.caFile) } : {}),
          ...(tls.certFile && tls.keyFile ? { clientCertPair: { crt: read(tls.certFile), key: read(tls.keyFile) } } : {}),
        };
  return {
    address: settings.address,
    ...(wantsTls ? { tls: tlsOptions && Object.keys(tlsOptions).length > 0 ? tlsOptions : true } : {}),
    ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
  };
}
