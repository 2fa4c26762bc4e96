import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** MACHINE.md's flags for Debian's Chromium driven by playwright-core. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const DEFAULT_PATH = '/usr/bin/chromium';
export const INSTALL_COMMAND = 'scripts/install-chromium.sh';

/** CHROMIUM_PATH, else Debian's /usr/bin/chromium; undefined when there is none. */
function foundChromium(env: NodeJS.ProcessEnv): string | undefined {
  const candidate = env.CHROMIUM_PATH ?? DEFAULT_PATH;
  return existsSync(candidate) ? candidate : undefined;
}

/**
 * CHROMIUM_PATH, else Debian's /usr/bin/chromium. No browser is an error, not a skipped test: the
 * pages are only proven in a real browser.
 */
export function chromiumPath(): string {
  const found = foundChromium(process.env);
  if (!found) throw new Error(`no Chromium at ${process.env.CHROMIUM_PATH ?? DEFAULT_PATH}: run ${INSTALL_COMMAND}, or set CHROMIUM_PATH`);
  return found;
}

/**
 * Before any test runs (globalSetup): a Chromium is found, or installed the way `.ci/run` installs
 * it (Debian's package), as the Temporal CLI and Synapse are installed when missing. When that
 * fails too, the run stops in its first seconds naming the one command to run.
 */
export function ensureChromium(options: { env?: NodeJS.ProcessEnv; install?: () => void } = {}): string {
  const env = options.env ?? process.env;
  const install = options.install ?? (() => execFileSync('bash', [path.resolve(__dirname, '..', '..', INSTALL_COMMAND)], { stdio: 'inherit', env }));
  const found = foundChromium(env);
  if (found) return found;
  try {
    install();
  } catch {
    // said below, with what to do
  }
  const installed = foundChromium(env);
  if (!installed) {
    throw new Error(`The browser tests need Chromium and none was found at ${env.CHROMIUM_PATH ?? DEFAULT_PATH} or could be installed: run ${INSTALL_COMMAND} (as root), or set CHROMIUM_PATH to a Chromium or Chrome`);
  }
  return installed;
}
