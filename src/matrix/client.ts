/** What the server needs to act on the homeserver as an Application Service. */
export interface MatrixSettings {
  homeserverUrl: string;
  asToken: string;
  serverName: string;
}

/** A homeserver call that did not succeed. `retryable` for network errors, 5xx and 429. */
export class MatrixRequestError extends Error {
  override readonly name = 'MatrixRequestError';

  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly errcode?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

async function errorFrom(res: Response): Promise<MatrixRequestError> {
  let body: { errcode?: unknown; error?: unknown; retry_after_ms?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not a Matrix error body
  }
  const errcode = typeof body.errcode === 'string' ? body.errcode : undefined;
  const text = typeof body.error === 'string' ? body.error : res.statusText;
  let retryAfterMs = typeof body.retry_after_ms === 'number' ? body.retry_after_ms : undefined;
  const header = res.headers.get('retry-after');
  if (retryAfterMs === undefined && header && /^\d+$/.test(header)) retryAfterMs = Number(header) * 1000;
  const retryable = res.status === 429 || res.status >= 500;
  return new MatrixRequestError(`homeserver answered ${res.status}${errcode ? ` ${errcode}` : ''}: ${text}`, retryable, res.status, errcode, retryAfterMs);
}

interface Call {
  method: 'GET' | 'POST' | 'PUT';
  /** Path segments after `/_matrix/client/`, each URI-encoded here. */
  path: string[];
  /** The AS user the call is made as (`?user_id=`); the AS's own sender when absent. */
  asUser?: string;
  body?: unknown;
}

/** One client-server API call with `token` (the as_token, or a user's own). Answers the JSON body; throws MatrixRequestError. */
async function call<T>(homeserverUrl: string, token: string | undefined, { method, path, asUser, body }: Call): Promise<T> {
  const url = new URL(`${homeserverUrl}/_matrix/client/${path.map(encodeURIComponent).join('/')}`);
  if (asUser) url.searchParams.set('user_id', asUser);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new MatrixRequestError(`homeserver unreachable: ${err instanceof Error ? err.message : String(err)}`, true);
  }
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

/**
 * `PUT /rooms/{roomId}/send/{type}/{txnId}?user_id=...`. The homeserver deduplicates by (sender,
 * txnId), so sending the same txnId again is safe, within the homeserver's memory of it: Synapse
 * keeps transaction ids in memory for about 30 minutes, so a homeserver that stored the event and
 * crashed before answering can end up with it twice.
 */
export async function sendRoomEvent(
  settings: MatrixSettings,
  event: { roomId: string; type: string; content: Record<string, unknown>; txnId: string; asUser: string },
): Promise<{ eventId: string }> {
  const body = await call<{ event_id?: unknown }>(settings.homeserverUrl, settings.asToken, {
    method: 'PUT',
    path: ['v3', 'rooms', event.roomId, 'send', event.type, event.txnId],
    asUser: event.asUser,
    body: event.content,
  });
  if (typeof body.event_id !== 'string') throw new MatrixRequestError('homeserver answered without event_id', true);
  return { eventId: body.event_id };
}

/** `PUT /rooms/{roomId}/state/{type}/{stateKey}` as one of our users: the room's current state of that type and key. */
export async function sendStateEvent(
  settings: MatrixSettings,
  event: { roomId: string; type: string; stateKey: string; content: Record<string, unknown>; asUser: string },
): Promise<{ eventId: string }> {
  const body = await call<{ event_id?: unknown }>(settings.homeserverUrl, settings.asToken, {
    method: 'PUT',
    path: ['v3', 'rooms', event.roomId, 'state', event.type, event.stateKey],
    asUser: event.asUser,
    body: event.content,
  });
  if (typeof body.event_id !== 'string') throw new MatrixRequestError('homeserver answered without event_id', true);
  return { eventId: body.event_id };
}

/** `POST /join/{roomIdOrAlias}` as one of our users; joining a room one is in already is a no-op. */
export async function joinRoom(settings: MatrixSettings, roomIdOrAlias: string, asUser: string): Promise<{ roomId: string }> {
  const body = await call<{ room_id: string }>(settings.homeserverUrl, settings.asToken, { method: 'POST', path: ['v3', 'join', roomIdOrAlias], asUser, body: {} });
  return { roomId: body.room_id };
}

/** Registers a user of our namespace (`m.login.application_service`); one that exists already is fine. */
export async function registerAppserviceUser(settings: MatrixSettings, localpart: string): Promise<void> {
  try {
    await call(settings.homeserverUrl, settings.asToken, {
      method: 'POST',
      path: ['v3', 'register'],
      body: { type: 'm.login.application_service', username: localpart, inhibit_login: true },
    });
  } catch (err) {
    if (err instanceof MatrixRequestError && err.errcode === 'M_USER_IN_USE') return;
    throw err;
  }
}

export async function setProfile(settings: MatrixSettings, userId: string, field: 'displayname' | 'avatar_url', value: string): Promise<void> {
  await call(settings.homeserverUrl, settings.asToken, { method: 'PUT', path: ['v3', 'profile', userId, field], asUser: userId, body: { [field]: value } });
}

/** Creates a room as one of our users, with the alias localpart given (`room_alias_name`). */
export async function createRoom(
  settings: MatrixSettings,
  asUser: string,
  room: { aliasLocalpart: string; name: string; topic?: string },
): Promise<{ roomId: string }> {
  const body = await call<{ room_id: string }>(settings.homeserverUrl, settings.asToken, {
    method: 'POST',
    path: ['v3', 'createRoom'],
    asUser,
    body: { room_alias_name: room.aliasLocalpart, name: room.name, ...(room.topic ? { topic: room.topic } : {}), preset: 'public_chat', visibility: 'private' },
  });
  return { roomId: body.room_id };
}

/** Creates a direct room of one of our users with a person (invited, `is_direct`), as a messenger shows a DM. */
export async function createDirectRoom(settings: MatrixSettings, asUser: string, invitee: string, name: string): Promise<{ roomId: string }> {
  const body = await call<{ room_id: string }>(settings.homeserverUrl, settings.asToken, {
    method: 'POST',
    path: ['v3', 'createRoom'],
    asUser,
    body: { preset: 'trusted_private_chat', is_direct: true, invite: [invitee], name, visibility: 'private' },
  });
  return { roomId: body.room_id };
}

/** A private room one of our users creates for people (a mini-app's bot, for its user: PROTO 4.16), inviting them. */
export async function createPrivateRoom(settings: MatrixSettings, asUser: string, room: { name: string; topic?: string; invite: readonly string[] }): Promise<{ roomId: string }> {
  const body = await call<{ room_id: string }>(settings.homeserverUrl, settings.asToken, {
    method: 'POST',
    path: ['v3', 'createRoom'],
    asUser,
    body: { preset: 'private_chat', visibility: 'private', name: room.name, ...(room.topic ? { topic: room.topic } : {}), invite: room.invite },
  });
  return { roomId: body.room_id };
}

/** `POST /rooms/{roomId}/invite` as one of our users in the room. */
export async function inviteToRoom(settings: MatrixSettings, roomId: string, asUser: string, userId: string): Promise<void> {
  await call(settings.homeserverUrl, settings.asToken, { method: 'POST', path: ['v3', 'rooms', roomId, 'invite'], asUser, body: { user_id: userId } });
}

/** The joined members of a room, read as one of our users who is in it. */
export async function joinedMembers(settings: MatrixSettings, roomId: string, asUser: string): Promise<string[]> {
  const body = await call<{ joined?: Record<string, unknown> }>(settings.homeserverUrl, settings.asToken, { method: 'GET', path: ['v3', 'rooms', roomId, 'joined_members'], asUser });
  return Object.keys(body.joined ?? {});
}

/**
 * Asks the homeserver to ping us (`POST /_matrix/client/v1/appservice/{id}/ping`): proves both
 * directions work, and makes Synapse retry at once the transactions it held back while we were away.
 */
export async function pingFromHomeserver(settings: MatrixSettings, appserviceId: string, transactionId: string): Promise<{ durationMs: number }> {
  const body = await call<{ duration_ms?: number }>(settings.homeserverUrl, settings.asToken, {
    method: 'POST',
    path: ['v1', 'appservice', appserviceId, 'ping'],
    body: { transaction_id: transactionId },
  });
  return { durationMs: body.duration_ms ?? 0 };
}

/**
 * `GET /account/whoami` with a user's own access token: the homeserver says whose session it is.
 * An unknown or expired token answers 401 (MatrixRequestError, not retryable).
 */
export async function whoami(homeserverUrl: string, accessToken: string): Promise<{ userId: string; isGuest: boolean }> {
  const body = await call<{ user_id?: unknown; is_guest?: unknown }>(homeserverUrl, accessToken, { method: 'GET', path: ['v3', 'account', 'whoami'] });
  if (typeof body.user_id !== 'string') throw new MatrixRequestError('homeserver answered whoami without user_id', true);
  return { userId: body.user_id, isGuest: body.is_guest === true };
}

/** `GET /login`: the login types the homeserver offers (`m.login.password`, `m.login.sso`, ...). */
export async function loginFlows(homeserverUrl: string): Promise<string[]> {
  const body = await call<{ flows?: { type?: unknown }[] }>(homeserverUrl, undefined, { method: 'GET', path: ['v3', 'login'] });
  return (body.flows ?? []).map((f) => f.type).filter((t): t is string => typeof t === 'string');
}

/**
 * `POST /login` with a password or an SSO login token: a new Matrix session of the user. A wrong
 * password answers 403 (MatrixRequestError, not retryable).
 */
export async function login(
  homeserverUrl: string,
  credentials: { type: 'm.login.password'; user: string; password: string } | { type: 'm.login.token'; token: string },
): Promise<{ userId: string; accessToken: string }> {
  const body =
    credentials.type === 'm.login.password'
      ? { type: credentials.type, identifier: { type: 'm.id.user', user: credentials.user }, password: credentials.password, initial_device_display_name: 'TMCP sign-in check' }
      : { type: credentials.type, token: credentials.token, initial_device_display_name: 'TMCP sign-in check' };
  const answer = await call<{ user_id?: unknown; access_token?: unknown }>(homeserverUrl, undefined, { method: 'POST', path: ['v3', 'login'], body });
  if (typeof answer.user_id !== 'string' || typeof answer.access_token !== 'string') throw new MatrixRequestError('homeserver answered login without a session', true);
  return { userId: answer.user_id, accessToken: answer.access_token };
}

/** `POST /logout`: ends the session (and its device). */
export async function logout(homeserverUrl: string, accessToken: string): Promise<void> {
  await call(homeserverUrl, accessToken, { method: 'POST', path: ['v3', 'logout'], body: {} });
}

/** `GET /profile/{userId}` with the AS token: display name and avatar, where the homeserver shares them. */
export async function profile(settings: MatrixSettings, userId: string): Promise<{ displayName?: string; avatarUrl?: string }> {
  const body = await call<{ displayname?: unknown; avatar_url?: unknown }>(settings.homeserverUrl, settings.asToken, { method: 'GET', path: ['v3', 'profile', userId] });
  return {
    ...(typeof body.displayname === 'string' ? { displayName: body.displayname } : {}),
    ...(typeof body.avatar_url === 'string' ? { avatarUrl: body.avatar_url } : {}),
  };
}
