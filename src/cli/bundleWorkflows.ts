import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleOptions } from '../temporal/worker';

/**
 * `npm run build` step: bundle workflows/ once, so production workers load the bundle
 * (WORKFLOW_BUNDLE_PATH) instead of bundling at start, and a forbidden import fails the build.
 */
async function main(): Promise<void> {
  const out = process.argv[2];
  // Two bundles: the one workers load, and the one they load with tracing on (bundleFor).
  for (const tracing of [false, true]) {
    const { code } = await bundleWorkflowCode(bundleOptions({ tracing }));
    const file = out && (tracing ? out.replace(/\.js$/, '.traced.js') : out);
    if (file) await writeFile(file, code);
    process.stdout.write(`workflow bundle${tracing ? ' (traced)' : ''}: ${code.length} bytes${file ? ` -> ${file}` : ''}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
