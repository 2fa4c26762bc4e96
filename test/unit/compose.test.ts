import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { envSchema } from '../../src/config';

// No Docker engine runs here, so the file is checked for what can go wrong without one.
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, { build?: unknown; environment?: Record<string, unknown>; command?: string[] }>;
};

test('every variable set on our services is one the config schema reads', () => {
  const known = new Set(Object.keys(envSchema.shape));
  for (const name of ['api', 'worker']) {
    const env = Object.keys(compose.services[name]?.environment ?? {});
    expect(env.length).toBeGreaterThan(0);
    expect(env.filter((key) => !known.has(key))).toEqual([]);
  }
});

test('api and worker are built from this repository and run the compiled entry points', () => {
  expect(compose.services.api).toMatchObject({ build: '.', command: ['node', 'dist/src/api.js'] });
  expect(compose.services.worker).toMatchObject({ build: '.', command: ['node', 'dist/src/worker.js'] });
});

test('every service the README names is in the compose file, and the other way round', () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('## docker compose')[1]?.split('\n## ')[0] ?? '';
  const named = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
  expect(named.length).toBeGreaterThan(0);
  expect(new Set(named)).toEqual(new Set(Object.keys(compose.services)));
});
