import type { Logger } from '../logger';
import { ensureBot, SYSTEM_BOTS, type BotSettings } from './bots';
import { pingFromHomeserver } from './client';

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;

/**
 * Makes sure the system bots exist with their display names, then has the homeserver ping us, in
 * the background: a homeserver that is down (or still starting) delays this with growing pauses
 * and never holds up the API. The ping proves the homeserver reaches us, and makes Synapse send
 * at once what it held back while we were down.
 */
export function ensureSystemBots(
  settings: BotSettings,
  appserviceId: string,
  log: Logger,
): { ready: Promise<void>; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const attempt = async (failures: number): Promise<void> => {
    try {
      for (const bot of Object.values(SYSTEM_BOTS)) await ensureBot(settings, bot);
      log.info({ homeserver: settings.homeserverUrl, bots: Object.values(SYSTEM_BOTS).map((b) => b.localpart) }, 'Matrix bots ready');
      try {
        const { durationMs } = await pingFromHomeserver(settings, appserviceId, `startup-${Date.now()}`);
        log.info({ duration_ms: durationMs }, 'the homeserver reaches us');
      } catch (err) {
        // Not fatal: the homeserver retries on its own schedule. The reason helps an operator.
        log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'the homeserver could not ping us; check the registration url and hs_token');
      }
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
