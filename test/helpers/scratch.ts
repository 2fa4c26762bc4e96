import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { testEnv } from '../setup/env';

/** A fresh path (unique name, same extension) in the run's scratch folder, which globalTeardown removes. */
export function scratchFile(name: string): string {
  const ext = path.extname(name);
  return path.join(testEnv('scratchDir'), `${path.basename(name, ext)}-${randomBytes(6).toString('hex')}${ext}`);
}
