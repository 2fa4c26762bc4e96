/** A person on the homeserver, using the client-server API with their own access token (as a Matrix client would). */
export interface MatrixUser {
  userId: string;
  accessToken: string;
}

export interface RoomEvent {
  type: string;
  sender: string;
  event_id: string;
  content: Record<string, any>;
  state_key?: string;
}

async function request<T>(homeserver: string, user: MatrixUser, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${homeserver}/_matrix/client/v3/${path}`, {
    method,
    headers: { authorization: `Bearer ${user.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = (await res.json()) as T & { errcode?: string; error?: string };
  if (!res.ok) throw new Error(`${method} ${path} as ${user.userId}: ${res.status} ${parsed.errcode} ${parsed.error}`);
  return parsed;
}

const room = (roomId: string) => encodeURIComponent(roomId);

export function matrixClient(homeserver: string, user: MatrixUser) {
  let txn = 0;
  return {
    ...user,
    async createRoom(invite: string[]): Promise<string> {
      return (await request<{ room_id: string }>(homeserver, user, 'POST', 'createRoom', { preset: 'private_chat', invite })).room_id;
    },
    async invite(roomId: string, userId: string): Promise<void> {
      await request(homeserver, user, 'POST', `rooms/${room(roomId)}/invite`, { user_id: userId });
    },
    async join(roomId: string): Promise<void> {
      await request(homeserver, user, 'POST', `join/${room(roomId)}`, {});
    },
    async send(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
      txn += 1;
      const path = `rooms/${room(roomId)}/send/${encodeURIComponent(type)}/${Date.now()}-${txn}`;
      return (await request<{ event_id: string }>(homeserver, user, 'PUT', path, content)).event_id;
    },
    async joinedMembers(roomId: string): Promise<string[]> {
      return Object.keys((await request<{ joined: Record<string, unknown> }>(homeserver, user, 'GET', `rooms/${room(roomId)}/joined_members`)).joined);
    },
    /** The room's timeline as this user sees it, oldest first. */
    async timeline(roomId: string): Promise<RoomEvent[]> {
      const page = await request<{ chunk: RoomEvent[] }>(homeserver, user, 'GET', `rooms/${room(roomId)}/messages?dir=b&limit=1000`);
      return page.chunk.reverse();
    },
  };
}

export type MatrixClient = ReturnType<typeof matrixClient>;
