import { createHash, timingSafeEqual } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { DatabasePool } from '../../db/pool';
import { DomainError, invalidField, type ErrorCode } from '../../domain/errors';
import { botFor, ensureBot, provideMiniappRoom, type BotSettings } from '../../matrix/bots';
import { applyTransaction } from '../../matrix/transactions';
import type { InviteInput } from '../../domain/matrix';
import { refuseNulCharacters } from '../middleware/bodies';
import { documented } from '../openapi/routeDoc';
import { NoThirdPartyMatches, ThirdPartyProtocol } from '../responses/appservice';
import { Empty } from '../responses/common';
import type { AppContext, AppState } from '../state';
import { parseInput } from '../validate';

export interface AppserviceDeps {
  pool: DatabasePool;
  /** Undefined when Matrix is off: no hs_token is configured, so every request is refused. */
  matrix: (BotSettings & { hsToken: string }) | undefined;
  /** Starts the sagas of invites a transaction queued, after it committed (in the background). */
  startInvites(invites: readonly InviteInput[]): Promise<unknown>;
}

const PREFIX = '/_matrix/app/v1';
/** The unprefixed routes of AS API r0, which older homeservers still call. */
const LEGACY_PATH = /^\/(transactions|users|rooms)\//;
const PROTOCOL = 'tween';

/** The Matrix face of the error catalogue (AS API errors are `{errcode, error}`). */
const ERRCODES: Partial<Record<ErrorCode, string>> = {
  INVALID_TOKEN: 'M_UNAUTHORIZED',
  INSUFFICIENT_PERMISSIONS: 'M_FORBIDDEN',
  INVALID_REQUEST: 'M_BAD_JSON',
  NOT_FOUND: 'M_NOT_FOUND',
  UNRECOGNIZED: 'M_UNRECOGNIZED',
  METHOD_NOT_ALLOWED: 'M_UNRECOGNIZED',
};

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The homeserver's hs_token, from `Authorization: Bearer` or the deprecated `access_token` query
 * parameter, compared in constant time. None: 401; a wrong one, or two that disagree: 403.
 */
function authenticate(ctx: AppContext, expected: Buffer | undefined): void {
  const header = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
  const query = ctx.query.access_token;
  if (Array.isArray(query)) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'access_token was given more than once');
  if (header === undefined && query === undefined) throw new DomainError('INVALID_TOKEN', 'Missing hs_token');
  if (header !== undefined && query !== undefined && header !== query) {
    throw new DomainError('INSUFFICIENT_PERMISSIONS', 'The Authorization header and the access_token parameter disagree');
  }
  const token = header ?? query!;
  if (!expected || !timingSafeEqual(digest(token), expected)) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Invalid hs_token');
}

const TransactionBody = z
  .object({
    events: z.array(z.unknown()),
    ephemeral: z.array(z.unknown()).optional(),
  })
  .passthrough();

const doc = {
  transaction: documented({ summary: "The homeserver's events for the namespace (applied once per transaction id)", callers: ['synapse'], body: TransactionBody, responses: { 200: Empty } }),
  user: documented({ summary: "Whether a user id of the bots' namespace exists (its bot is registered on the way)", callers: ['synapse'], responses: { 200: Empty } }),
  room: documented({ summary: "Whether a room alias of the mini-apps' namespace exists (its room is made on the way)", callers: ['synapse'], responses: { 200: Empty } }),
  ping: documented({ summary: 'The homeserver checks that it reaches this application service', callers: ['synapse'], responses: { 200: Empty } }),
  protocol: documented({ summary: 'The `tween` third-party protocol', callers: ['synapse'], responses: { 200: ThirdPartyProtocol } }),
  lookUp: (kind: string) => ({
    inProtocol: documented({ summary: `Third-party ${kind}s of a protocol: none`, callers: ['synapse'], responses: { 200: NoThirdPartyMatches } }),
    any: documented({ summary: `Third-party ${kind}s: none`, callers: ['synapse'], responses: { 200: NoThirdPartyMatches } }),
  }),
};

/**
 * The Application Service API (spec v1.11+): transactions from the homeserver, user and alias
 * queries, ping and third-party lookups, under `/_matrix/app/v1` and the legacy unprefixed paths.
 * It answers in Matrix's error format and parses bodies itself: a transaction may be far larger
 * than the API's own requests.
 */
export function appserviceApi(deps: AppserviceDeps): Middleware<AppState> & { router: Router<AppState> } {
  const { matrix } = deps;
  const expected = matrix ? digest(matrix.hsToken) : undefined;
  const router = new Router<AppState>();

  const requireMatrix = () => {
    if (!matrix) throw new DomainError('INSUFFICIENT_PERMISSIONS', 'Matrix is off');
    return matrix;
  };

  for (const base of [PREFIX, '']) {
    router.put(`${base}/transactions/:txnId`, doc.transaction, async (ctx) => {
      const { serverName } = requireMatrix();
      const body = parseInput(TransactionBody, ctx.request.body ?? {});
      const { applied, invites } = await applyTransaction({ pool: deps.pool, log: ctx.state.log, serverName }, ctx.params.txnId!, body.events);
      ctx.state.log.info({ txn_id: ctx.params.txnId, events: body.events.length, applied }, applied ? 'AS transaction applied' : 'AS transaction repeated: already applied');
      // Answered without waiting: a Temporal that is down leaves the invites queued for the sweeper.
      if (invites.length > 0) void deps.startInvites(invites).catch((err: unknown) => ctx.state.log.warn({ err }, 'invite sagas not started yet'));
      ctx.body = {};
    });

    router.get(`${base}/users/:userId`, doc.user, async (ctx) => {
      const settings = requireMatrix();
      const bot = await botFor(deps.pool, ctx.params.userId!, settings.serverName);
      if (!bot) throw new DomainError('NOT_FOUND', 'No such user in this namespace');
      await ensureBot(settings, bot);
      ctx.body = {};
    });

    router.get(`${base}/rooms/:alias`, doc.room, async (ctx) => {
      const settings = requireMatrix();
      if (!(await provideMiniappRoom(deps.pool, settings, ctx.params.alias!))) throw new DomainError('NOT_FOUND', 'No such room alias in this namespace');
      ctx.body = {};
    });
  }

  router.post(`${PREFIX}/ping`, doc.ping, (ctx) => {
    ctx.body = {};
  });

  router.get(`${PREFIX}/thirdparty/protocol/:protocol`, doc.protocol, (ctx) => {
    if (ctx.params.protocol !== PROTOCOL) throw new DomainError('NOT_FOUND', 'No such protocol');
    ctx.body = {
      user_fields: [],
      location_fields: [],
      icon: matrix?.botAvatarUrl ?? '',
      field_types: {},
      instances: [{ network_id: PROTOCOL, desc: 'Tween mini-apps', fields: {} }],
    } satisfies z.input<typeof ThirdPartyProtocol>;
  });

  // Tween has no third-party users or locations to look up: the known protocol finds nothing.
  for (const kind of ['user', 'location']) {
    const lookUp = doc.lookUp(kind);
    router.get(`${PREFIX}/thirdparty/${kind}/:protocol`, lookUp.inProtocol, (ctx) => {
      if (ctx.params.protocol !== PROTOCOL) throw new DomainError('NOT_FOUND', 'No such protocol');
      ctx.body = [];
    });
    router.get(`${PREFIX}/thirdparty/${kind}`, lookUp.any, (ctx) => {
      ctx.body = [];
    });
  }

  const routes = router.routes();
  const parseBody = bodyParser({
    enableTypes: ['json'],
    jsonLimit: '64mb',
    onError: () => {
      throw invalidField('body', 'is not valid JSON');
    },
  });

  const serve: Middleware<AppState> = async (ctx, next) => {
    if (!ctx.path.startsWith('/_matrix/app/') && !LEGACY_PATH.test(ctx.path)) return next();
    try {
      authenticate(ctx, expected);
      let routed = true;
      await refuseNulCharacters(ctx, () =>
        parseBody(ctx, () =>
          routes(ctx as Parameters<typeof routes>[0], async () => {
            routed = false;
          }),
        ),
      );
      if (!routed) {
        const knownPath = router.match(ctx.path, ctx.method).path.some((layer) => layer.methods.length > 0);
        if (knownPath) throw new DomainError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed here`);
        throw new DomainError('UNRECOGNIZED', `Unrecognized request: ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof DomainError && ERRCODES[err.code]) {
        ctx.status = err.status;
        ctx.body = { errcode: ERRCODES[err.code], error: err.message };
        return;
      }
      // A homeserver call or the database failed: a 5xx makes Synapse retry the transaction.
      ctx.state.log.error({ err, path: ctx.path }, 'appservice request failed');
      ctx.status = err instanceof DomainError ? err.status : 500;
      ctx.body = { errcode: 'M_UNKNOWN', error: err instanceof DomainError ? err.message : 'Internal server error' };
    }
  };
  // Listed with the other routers' routes (mountedRoutes).
  return Object.assign(serve, { router });
}
