import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { SENDER_LOCALPART, SYSTEM_BOTS } from './bots';

export interface AppserviceIdentity {
  id: string;
  /** Where the homeserver reaches us. */
  url: string;
  serverName: string;
}

/** A fresh token for the registration: 256 random bits, hex. */
export function newAppserviceToken(): string {
  return randomBytes(32).toString('hex');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The Application Service registration (Matrix AS API, "Registration"). Every namespace is exclusive
 * and anchored, so no other user or alias on the server can fall inside it.
 */
export function appserviceRegistration(identity: AppserviceIdentity, tokens: { asToken: string; hsToken: string }) {
  const server = escapeRegex(identity.serverName);
  const exclusive = (regex: string) => ({ exclusive: true, regex });
  return {
    id: identity.id,
    url: identity.url,
    as_token: tokens.asToken,
    hs_token: tokens.hsToken,
    sender_localpart: SENDER_LOCALPART,
    rate_limited: false,
    namespaces: {
      users: [
        ...Object.values(SYSTEM_BOTS).map((bot) => exclusive(`^@${escapeRegex(bot.localpart)}:${server}$`)),
        exclusive(`^@ma_[a-z0-9_]+:${server}$`),
      ],
      aliases: [exclusive(`^#_ma_[^:]+:${server}$`)],
      rooms: [],
    },
    protocols: ['tween'],
  };
}

/**
 * As YAML. The yaml library picks the quoting, so a backslash in a regex stays one backslash for
 * the homeserver (the integration guide's `"tween\.im"` in double quotes is an invalid escape).
 */
export function registrationYaml(registration: ReturnType<typeof appserviceRegistration>): string {
  return stringify(registration, { lineWidth: 0 });
}
