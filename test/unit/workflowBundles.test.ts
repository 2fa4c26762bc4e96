import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleFor, bundleOptions } from '../../src/temporal/worker';

test('the tracing interceptor is bundled only for tracing, and a traced worker loads the traced bundle beside the configured one', () => {
  expect(bundleOptions().workflowInterceptorModules.some((m) => m.includes('opentelemetry'))).toBe(false);
  expect(bundleOptions({ tracing: true }).workflowInterceptorModules.some((m) => m.includes('interceptors-opentelemetry'))).toBe(true);
  const dir = mkdtempSync(path.join(tmpdir(), 'tmcp-bundles-'));
  const plain = path.join(dir, 'workflow-bundle.js');
  writeFileSync(plain, '');
  expect(bundleFor(plain, true)).toBe(plain);
  writeFileSync(path.join(dir, 'workflow-bundle.traced.js'), '');
  expect(bundleFor(plain, true)).toBe(path.join(dir, 'workflow-bundle.traced.js'));
  expect(bundleFor(plain, false)).toBe(plain);
});
