import type { Logger } from '../logger';
import { ensureBot, SYSTEM_BOTS } from './bots';
import type { MatrixSettings } from './client';

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;

/**
 * Makes sure the system bots exist with their display names, in the background: a homeserver that
 * is down (or still starting) delays this with growing pauses and never holds up the API.
 */
export function ensureSystemBots(settings: MatrixSettings & { botAvatarUrl?: string }, log: Logger): { ready: Promise<void>; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const attempt = async (failures: number): Promise<void> => {
    try {
      for (const bot of Object.values(SYSTEM_BOTS)) await ensureBot(settings, bot);
      log.info({ homeserver: settings.homeserverUrl, bots: Object.values(SYSTEM_BOTS).map((b) => b.localpart) }, 'Matrix bots ready');
      resolveReady();
    } catch (err) {
      if (stopped) return;
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures);
      log.warn({ homeserver: settings.homeserverUrl, reason: err instanceof Error ? err.message : String(err), retry_in_ms: delay }, 'Matrix bots not set up yet; retrying');
      timer = setTimeout(() => void attempt(failures + 1), delay);
    }
  };
  void attempt(0);
  return {
    ready,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
