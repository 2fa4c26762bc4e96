import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleOptions } from '../temporal/worker';

/**
 * `npm run build` step: bundle workflows/ once, so production workers load the bundle
 * (WORKFLOW_BUNDLE_PATH) instead of bundling at start, and a forbidden import fails the build.
 */
async function main(): Promise<void> {
  const out = process.argv[2];
  const { code } = await bundleWorkflowCode(bundleOptions());
  if (out) await writeFile(out, code);
  process.stdout.write(`workflow bundle: ${code.length} bytes${out ? ` -> ${out}` : ''}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
