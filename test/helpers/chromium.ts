import { existsSync } from 'node:fs';

/** MACHINE.md's flags for Debian's Chromium driven by playwright-core. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * CHROMIUM_PATH, else Debian's /usr/bin/chromium (.ci/run installs it). No browser is an error, not
 * a skipped test: the pages are only proven in a real browser.
 */
export function chromiumPath(): string {
  const found = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(found)) throw new Error(`no Chromium at ${found}: apt-get install chromium, or set CHROMIUM_PATH`);
  return found;
}
