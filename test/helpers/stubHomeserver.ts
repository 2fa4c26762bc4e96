import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { newUserId } from './p2p';

export interface SentEvent {
  roomId: string;
  type: string;
  txnId: string;
  userId: string | null;
  authorization: string | undefined;
  content: Record<string, unknown>;
  at: number;
}

/** Any other client-server call the stub received (join, register, profile, createRoom, joined_members, state). */
export interface Call {
  kind: CallKind;
  method: string;
  /** Decoded path segments after the endpoint name, e.g. the room id of a join. */
  args: string[];
  userId: string | null;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
  at: number;
}

export type CallKind = 'join' | 'register' | 'profile' | 'createRoom' | 'joined_members' | 'ping' | 'whoami' | 'loginFlows' | 'login' | 'logout' | 'getProfile' | 'ssoRedirect' | 'state' | 'invite';

/** What the stub answers to one request: a status and body, or `hold` to never answer (a homeserver that hangs). */
export type Reply = { status: number; body?: unknown } | 'hold';

const ROUTES: { kind: CallKind; method: string; pattern: RegExp }[] = [
  { kind: 'join', method: 'POST', pattern: /^\/_matrix\/client\/v3\/join\/([^/]+)$/ },
  { kind: 'register', method: 'POST', pattern: /^\/_matrix\/client\/v3\/register$/ },
  { kind: 'profile', method: 'PUT', pattern: /^\/_matrix\/client\/v3\/profile\/([^/]+)\/([^/]+)$/ },
  { kind: 'createRoom', method: 'POST', pattern: /^\/_matrix\/client\/v3\/createRoom$/ },
  { kind: 'state', method: 'PUT', pattern: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/state\/([^/]+)\/([^/]*)$/ },
  { kind: 'invite', method: 'POST', pattern: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/invite$/ },
  { kind: 'joined_members', method: 'GET', pattern: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/joined_members$/ },
  { kind: 'ping', method: 'POST', pattern: /^\/_matrix\/client\/v1\/appservice\/([^/]+)\/ping$/ },
  { kind: 'whoami', method: 'GET', pattern: /^\/_matrix\/client\/v3\/account\/whoami$/ },
  { kind: 'loginFlows', method: 'GET', pattern: /^\/_matrix\/client\/v3\/login$/ },
  { kind: 'login', method: 'POST', pattern: /^\/_matrix\/client\/v3\/login$/ },
  { kind: 'logout', method: 'POST', pattern: /^\/_matrix\/client\/v3\/logout$/ },
  { kind: 'getProfile', method: 'GET', pattern: /^\/_matrix\/client\/v3\/profile\/([^/]+)$/ },
  { kind: 'ssoRedirect', method: 'GET', pattern: /^\/_matrix\/client\/v3\/login\/sso\/redirect$/ },
];

function hasFloat(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isInteger(value);
  if (value && typeof value === 'object') return Object.values(value).some(hasFloat);
  return false;
}

/**
 * A stand-in homeserver for the client-server calls the server makes, for unit-testing retries and
 * refusals. Like Synapse it deduplicates sends by (sender, txnId): a repeated txnId gets the first
 * event id and stores nothing new. The real Synapse is tested in the Application Service suite.
 */
export async function startStubHomeserver(options: { port?: number } = {}) {
  const requests: SentEvent[] = [];
  const calls: Call[] = [];
  const stored = new Map<string, { eventId: string; event: SentEvent }>();
  const script: Reply[] = [];
  /** Scripted replies by `kind|room` (room empty: any call of the kind). */
  const scripts = new Map<string, Reply[]>();
  const held: ServerResponse[] = [];
  /** Users' access tokens the stub knows (whoami), and whether each is a guest. */
  const sessions = new Map<string, { userId: string; guest: boolean }>();
  /** Accounts that can log in with a password (by localpart or full id), their display names, and SSO login tokens. */
  const accounts = new Map<string, { userId: string; password: string; displayName?: string }>();
  const loginTokens = new Map<string, string>();
  const profiles = new Map<string, { displayname?: string; avatar_url?: string }>();
  let flows = ['m.login.password'];
  let ssoUser: string | undefined;
  let counter = 0;
  let onRequest: ((e: SentEvent) => void) | undefined;
  /** While set, every request is answered with this status and nothing is stored (a homeserver in trouble). */
  let failingWith: number | undefined;

  const answer = (res: ServerResponse, reply: Reply, ok: () => unknown) => {
    if (reply === 'hold') {
      held.push(res);
      return;
    }
    const body = reply.status === 200 ? (reply.body ?? ok()) : (reply.body ?? { errcode: 'M_UNKNOWN', error: 'stub failure' });
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      if (failingWith !== undefined) {
        res.writeHead(failingWith, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode: 'M_UNKNOWN', error: 'stub outage' }));
        return;
      }
      const send = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'PUT' && send) {
        const event: SentEvent = {
          roomId: decodeURIComponent(send[1]!),
          type: decodeURIComponent(send[2]!),
          txnId: decodeURIComponent(send[3]!),
          userId: url.searchParams.get('user_id'),
          authorization: req.headers.authorization,
          content: JSON.parse(raw) as Record<string, unknown>,
          at: Date.now(),
        };
        requests.push(event);
        onRequest?.(event);
        // Like Synapse: canonical JSON has no floats.
        const fallback: Reply = hasFloat(event.content) ? { status: 400, body: { errcode: 'M_BAD_JSON', error: 'Bad JSON value: float' } } : { status: 200 };
        answer(res, script.shift() ?? fallback, () => {
          const key = `${event.userId}|${event.txnId}`;
          let entry = stored.get(key);
          if (!entry) {
            counter += 1;
            entry = { eventId: `$stub${counter}:stub.test`, event };
            stored.set(key, entry);
          }
          return { event_id: entry.eventId };
        });
        return;
      }
      const route = ROUTES.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode: 'M_UNRECOGNIZED', error: 'stub' }));
        return;
      }
      const call: Call = {
        kind: route.kind,
        method: req.method!,
        args: route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent),
        userId: url.searchParams.get('user_id'),
        authorization: req.headers.authorization,
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined,
        at: Date.now(),
      };
      calls.push(call);
      const scripted = scripts.get(`${route.kind}|${call.args[0] ?? ''}`)?.shift() ?? scripts.get(`${route.kind}|`)?.shift();
      const session = sessions.get(/^Bearer (.+)$/.exec(call.authorization ?? '')?.[1] ?? '');
      const unknownToken: Reply = { status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token' } };
      let fallback: Reply = (route.kind === 'whoami' || route.kind === 'logout') && !session ? unknownToken : { status: 200 };
      if (route.kind === 'ssoRedirect') {
        // Single sign-on at the homeserver: the user (ssoUser) signs in there and is sent back with a login token.
        const back = new URL(url.searchParams.get('redirectUrl') ?? 'http://nowhere.invalid');
        counter += 1;
        const token = `lt_${counter}`;
        if (ssoUser) loginTokens.set(token, ssoUser);
        back.searchParams.set('loginToken', token);
        res.writeHead(302, { location: back.toString() }).end();
        return;
      }
      let loggedIn: string | undefined;
      if (route.kind === 'login') {
        const body = call.body ?? {};
        const identifier = body.identifier as { user?: string } | undefined;
        const account = accounts.get(String(identifier?.user ?? ''));
        if (body.type === 'm.login.password') loggedIn = account && account.password === body.password ? account.userId : undefined;
        if (body.type === 'm.login.token') loggedIn = loginTokens.get(String(body.token));
        if (body.type === 'm.login.token') loginTokens.delete(String(body.token));
        if (!loggedIn) fallback = { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' } };
      }
      answer(res, scripted ?? fallback, () => {
        switch (route.kind) {
          case 'join':
            return { room_id: call.args[0] };
          case 'register':
            return { user_id: `@${String(call.body?.username)}:stub.test` };
          case 'createRoom':
            counter += 1;
            return { room_id: `!created${counter}:stub.test` };
          case 'joined_members':
            return { joined: {} };
          case 'state':
            counter += 1;
            return { event_id: `$state${counter}:stub.test` };
          case 'ping':
            return { duration_ms: 1 };
          case 'whoami':
            return { user_id: session?.userId, device_id: 'STUBDEVICE', ...(session?.guest ? { is_guest: true } : {}) };
          case 'loginFlows':
            return { flows: flows.map((type) => ({ type })) };
          case 'login': {
            counter += 1;
            const accessToken = `syt_login_${counter}`;
            sessions.set(accessToken, { userId: loggedIn!, guest: false });
            return { user_id: loggedIn, access_token: accessToken, device_id: `LOGIN${counter}` };
          }
          case 'logout':
            sessions.delete(/^Bearer (.+)$/.exec(call.authorization ?? '')?.[1] ?? '');
            return {};
          case 'getProfile':
            return profiles.get(call.args[0]!) ?? {};
          default:
            return {};
        }
      });
    });
  });
  const queue = (key: string, replies: Reply[]) => void scripts.set(key, [...(scripts.get(key) ?? []), ...replies]);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    url,
    /** Every send request, including retries and failures. */
    requests,
    /** Every other call, in order. */
    calls,
    /** Events the stub stored, one per (sender, txnId). */
    events: () => [...stored.values()].map((e) => ({ ...e.event, eventId: e.eventId })),
    /** Queues replies for the next sends (afterwards: 200). */
    reply: (...replies: Reply[]) => void script.push(...replies),
    /** Queues replies for the next calls of one kind (afterwards: 200 with a plausible body). */
    replyTo: (kind: CallKind, ...replies: Reply[]) => queue(`${kind}|`, replies),
    /** The same for calls about one room (join, joined_members): other rooms' calls do not take them. */
    replyFor: (kind: CallKind, roomId: string, ...replies: Reply[]) => queue(`${kind}|${roomId}`, replies),
    /** A user's access token that whoami answers for. */
    addSession: (accessToken: string, userId: string, options: { guest?: boolean } = {}) => void sessions.set(accessToken, { userId, guest: options.guest ?? false }),
    /** An account that logs in with a password, by localpart or full user id. */
    addAccount(localpart: string, password: string, displayName?: string): string {
      const userId = `@${localpart}:stub.test`;
      accounts.set(localpart, { userId, password, displayName });
      accounts.set(userId, { userId, password, displayName });
      if (displayName) profiles.set(userId, { displayname: displayName });
      return userId;
    },
    /** What GET /profile/{userId} answers for the user. */
    setUserProfile: (userId: string, profile: { displayname?: string; avatar_url?: string }) => void profiles.set(userId, profile),
    /** The login types GET /login lists. */
    setLoginFlows: (types: string[]) => void (flows = types),
    /** Who signs in at the homeserver's single sign-on. */
    setSsoUser: (userId: string | undefined) => void (ssoUser = userId),
    /** Access tokens of live sessions (logout ends one). */
    liveSessions: () => [...sessions.keys()],
    /** Answers every request with `status` from now on (nothing stored), or normally again with undefined. */
    failWith: (status: number | undefined) => void (failingWith = status),
    /** Resolves at the next send. */
    nextRequest: () => new Promise<SentEvent>((resolve) => (onRequest = (e) => ((onRequest = undefined), resolve(e)))),
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type StubHomeserver = Awaited<ReturnType<typeof startStubHomeserver>>;

/** The API's Matrix settings pointing at a stub homeserver; `name` keeps each test file's tokens apart. */
export function stubMatrixEnv(hs: StubHomeserver, name: string): Record<string, string> {
  return {
    MATRIX_HOMESERVER_URL: hs.url,
    MATRIX_AS_TOKEN: `as-token-${name}-0123456789abcdef`,
    MATRIX_HS_TOKEN: `hs-token-${name}-0123456789abcdef`,
    MATRIX_SERVER_NAME: 'tmcp.test',
  };
}

/** A new user, with a Matrix access token the stub's whoami answers for. */
export function stubSession(hs: StubHomeserver, name: string): { userId: string; token: string } {
  const userId = newUserId(name);
  const token = `syt_${name}_${Math.random().toString(36).slice(2)}`;
  hs.addSession(token, userId);
  return { userId, token };
}
