import { rm } from 'node:fs/promises';
import type { RunningPostgres } from '../../src/dev/embeddedPostgres';
import type { RunningTemporal } from '../../src/dev/temporalDevServer';

export default async function globalTeardown(): Promise<void> {
  const handles = (globalThis as Record<string, unknown>).__tmcpTestHandles as
    | { postgres?: RunningPostgres; temporal?: RunningTemporal; scratchDir: string }
    | undefined;
  await handles?.temporal?.stop();
  await handles?.postgres?.stop();
  if (handles) await rm(handles.scratchDir, { recursive: true, force: true });
}
