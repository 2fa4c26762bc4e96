import { databaseNow, joinedMembersOf, replaceJoinedMembers } from '../db/matrix';
import { miniappById } from '../db/miniapps';
import type { DatabaseConnection } from '../db/pool';
import { isMiniappClientId } from '../domain/miniapps';
import { createRoom, MatrixRequestError, registerAppserviceUser, setProfile, type MatrixSettings } from './client';

/**
 * The users this Application Service controls (its exclusive namespace). Three system bots, and one
 * bot per registered mini-app whose localpart is the mini-app's client id (`@ma_shop_001:server`).
 * An AS sends only as these users, so payment events name the people in their content.
 */
export interface Bot {
  localpart: string;
  displayName: string;
}

export const SENDER_LOCALPART = '_tmcp';

/** What setting up a bot needs: the homeserver, and the avatar the bots wear when one is configured. */
export type BotSettings = MatrixSettings & { botAvatarUrl?: string };

export const SYSTEM_BOTS = {
  main: { localpart: SENDER_LOCALPART, displayName: 'TMCP Bot' },
  payments: { localpart: '_tmcp_payments', displayName: 'Tween Payments' },
  updater: { localpart: '_tmcp_updater', displayName: 'Tween Mini-App Updater' },
} as const satisfies Record<string, Bot>;

export function matrixUserId(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/** The bot that sends payment events (PROTO 4.17). */
export function paymentsBot(serverName: string): string {
  return matrixUserId(SYSTEM_BOTS.payments.localpart, serverName);
}

/** The localpart of a user id on `serverName`, or undefined for a user of another server. */
export function localpartOn(userId: string, serverName: string): string | undefined {
  const suffix = `:${serverName}`;
  return userId.startsWith('@') && userId.endsWith(suffix) ? userId.slice(1, -suffix.length) : undefined;
}

function systemBot(localpart: string): Bot | undefined {
  return Object.values(SYSTEM_BOTS).find((bot) => bot.localpart === localpart);
}

/** Whether a user id is in our namespace at all (a system bot or any `ma_` bot), registered or not. */
export function inNamespace(userId: string, serverName: string): boolean {
  const localpart = localpartOn(userId, serverName);
  return localpart !== undefined && (systemBot(localpart) !== undefined || isMiniappClientId(localpart));
}

/** Our users (bots) joined to a room, as far as we know. */
export async function ourBotsIn(db: DatabaseConnection, roomId: string, serverName: string): Promise<string[]> {
  return (await joinedMembersOf(db, roomId)).filter((userId) => inNamespace(userId, serverName));
}

/** The bot behind a user id: a system bot, or the bot of an active registered mini-app. */
export async function botFor(db: DatabaseConnection, userId: string, serverName: string): Promise<Bot | undefined> {
  const localpart = localpartOn(userId, serverName);
  if (localpart === undefined) return undefined;
  const system = systemBot(localpart);
  if (system) return system;
  if (!isMiniappClientId(localpart)) return undefined;
  const app = await miniappById(db, localpart);
  return app?.status === 'active' ? { localpart, displayName: app.name } : undefined;
}

/** Makes sure a bot exists on the homeserver with its display name (and avatar when configured). */
export async function ensureBot(settings: BotSettings, bot: Bot): Promise<void> {
  await registerAppserviceUser(settings, bot.localpart);
  const userId = matrixUserId(bot.localpart, settings.serverName);
  await setProfile(settings, userId, 'displayname', bot.displayName);
  if (settings.botAvatarUrl) await setProfile(settings, userId, 'avatar_url', settings.botAvatarUrl);
}

/**
 * Room aliases of a mini-app: `#_<client_id>:server` and `#_<client_id>-<anything>:server` (or `.`
 * as the separator). Answers the client id the alias would belong to.
 */
export function miniappOfAlias(alias: string, serverName: string): { clientId: string; aliasLocalpart: string } | undefined {
  const suffix = `:${serverName}`;
  if (!alias.startsWith('#_ma_') || !alias.endsWith(suffix)) return undefined;
  const aliasLocalpart = alias.slice(1, -suffix.length);
  const match = /^_(ma_[a-z0-9_]+)(?:[.-][^:\s]+)?$/.exec(aliasLocalpart);
  return match && isMiniappClientId(match[1]!) ? { clientId: match[1]!, aliasLocalpart } : undefined;
}

/**
 * The homeserver asks about an alias in our namespace (AS API "Query room alias"): an alias of an
 * active registered mini-app gets its room, created by the mini-app's bot. Answers whether it exists now.
 */
export async function provideMiniappRoom(db: DatabaseConnection, settings: BotSettings, alias: string): Promise<boolean> {
  const target = miniappOfAlias(alias, settings.serverName);
  if (!target) return false;
  const bot = await botFor(db, matrixUserId(target.clientId, settings.serverName), settings.serverName);
  if (!bot) return false;
  await ensureBot(settings, bot);
  const botUserId = matrixUserId(bot.localpart, settings.serverName);
  try {
    const startedAt = await databaseNow(db);
    const { roomId } = await createRoom(settings, botUserId, { aliasLocalpart: target.aliasLocalpart, name: bot.displayName });
    // A new room: its only member is the bot, and every later change comes in transactions.
    await replaceJoinedMembers(db, roomId, [botUserId], startedAt);
  } catch (err) {
    // Created meanwhile by an earlier query: the alias exists, which is all the homeserver asked.
    if (err instanceof MatrixRequestError && err.errcode === 'M_ROOM_IN_USE') return true;
    throw err;
  }
  return true;
}
