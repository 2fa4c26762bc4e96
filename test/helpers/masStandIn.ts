import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface MasStandIn {
  url: string;
  introspectionUrl: string;
  clientId: string;
  clientSecret: string;
  /** An access token of the user, as MAS issues to a messenger that signs in. */
  mint(user: { sub: string; username: string; expiresIn?: number; scope?: string }): Promise<string>;
  close(): Promise<void>;
}

/** oidc-provider in a child process standing in for MAS (test/helpers/mas/standIn.mjs). */
export async function startMasStandIn(): Promise<MasStandIn> {
  const clientSecret = `mas-secret-${Math.random().toString(36).slice(2)}`;
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'mas', 'standIn.mjs'), clientSecret], { stdio: ['ignore', 'pipe', 'ignore'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`MAS stand-in exited with ${code}`)));
  });
  const { url, introspection_endpoint: introspectionUrl } = JSON.parse(first) as { url: string; introspection_endpoint: string };
  return {
    url,
    introspectionUrl,
    clientId: 'tmcp',
    clientSecret,
    async mint(user) {
      const res = await fetch(`${url}/test/mint`, { method: 'POST', body: JSON.stringify({ sub: user.sub, username: user.username, expires_in: user.expiresIn, scope: user.scope }) });
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    },
  };
}
