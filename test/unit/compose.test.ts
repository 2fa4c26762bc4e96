import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { envSchema } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../src/domain/searchAttributes';

// No Docker engine runs here, so the file is checked for what can go wrong without one; what the
// api and worker containers run is run by test/integration/composeProcesses.test.ts.
interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, unknown>;
  command?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown>; secrets: Record<string, unknown> };
const services = Object.entries(compose.services);

test('every variable set on our services is one the config schema reads', () => {
  const known = new Set(Object.keys(envSchema.shape));
  for (const name of ['api', 'worker', 'registration']) {
    const env = Object.keys(compose.services[name]?.environment ?? {});
    expect(env.length).toBeGreaterThan(0);
    expect(env.filter((key) => !known.has(key))).toEqual([]);
  }
});

test('api and worker are built from this repository, run the compiled entry points twice each, restart, and have health checks', () => {
  expect(compose.services.api).toMatchObject({ build: '.', command: ['node', 'dist/src/api.js'], deploy: { replicas: 2 }, restart: 'unless-stopped' });
  expect(compose.services.worker).toMatchObject({ build: '.', command: ['node', 'dist/src/worker.js'], deploy: { replicas: 2 }, restart: 'unless-stopped' });
  for (const name of ['api', 'worker', 'postgres', 'temporal-db', 'temporal', 'synapse']) expect([name, compose.services[name]?.healthcheck?.test.length]).toEqual([name, expect.any(Number)]);
});

test('nothing is published beyond localhost but the edge in front of the api', () => {
  const published = services.flatMap(([name, s]) => (s.ports ?? []).filter((p) => !p.startsWith('127.0.0.1:')).map((p) => `${name} ${p}`));
  expect(published).toEqual(['edge 3000:3000']);
  expect(compose.services.api?.ports).toBeUndefined();
});

test('every dependency, volume and secret named is defined', () => {
  for (const [name, s] of services) {
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    for (const dep of deps) expect([name, dep, dep in compose.services]).toEqual([name, dep, true]);
    for (const volume of s.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (!source.startsWith('.')) expect([name, source, source in compose.volumes]).toEqual([name, source, true]);
    }
  }
  expect(Object.keys(compose.secrets)).toEqual(['tep_keys']);
});

test('Temporal is the server image set up by admin-tools jobs, which register exactly the search attributes the sagas set', () => {
  expect(compose.services.temporal?.image).toMatch(/^temporalio\/server:/);
  expect(services.filter(([, s]) => s.image?.includes('auto-setup'))).toEqual([]);
  const setup = (compose.services['temporal-setup']?.command ?? []).join('\n');
  const registered = [...setup.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => `${m[1]}:${m[2]}`);
  const TYPE_NAMES: Record<string, string> = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' };
  expect(registered.sort()).toEqual(SEARCH_ATTRIBUTES.map((k) => `${k.name}:${TYPE_NAMES[k.type]}`).sort());
});

test('every service the README names is in the compose file, and the other way round', () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('## docker compose')[1]?.split('\n## ')[0] ?? '';
  const named = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
  expect(named.length).toBeGreaterThan(0);
  expect(new Set(named)).toEqual(new Set(Object.keys(compose.services)));
});
