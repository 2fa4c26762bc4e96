import Router from '@koa/router';
import Koa from 'koa';
import { required, type Config } from '../config';
import type { TepKeys } from '../auth/keys';
import { accessChecks, type AccessChecks } from '../auth/clients';
import { cachedTepVerifier } from '../auth/tep';
import { matrixTokenChecker, type MatrixTokenChecker } from '../auth/matrixTokens';
import { developerRoutes } from './routes/developers';
import { matrixActionRoutes } from './routes/matrixActions';
import type { DatabasePool } from '../db/pool';
import type { Logger } from '../logger';
import { startInviteSagas } from '../matrix/invites';
import { userContexts } from '../matrix/profiles';
import { createRooms } from '../matrix/rooms';
import { webhookSealer } from '../miniapps/admin';
import type { Temporal } from '../temporal/client';
import { giftSecrets } from '../gifts/gifts';
import { paymentSecrets } from '../payments/payments';
import { p2pSecrets } from '../p2p/p2p';
import { parseStorageKeys, storageCipher } from '../crypto/storageKeys';
import { browserKeys } from './pages/browser';
import { totpSealer } from '../factors/totp';
import type { BucketStore } from '../abuse/buckets';
import { systemClock, type Clock } from '../clock';
import { callerGates } from './middleware/auth';
import { httpMetrics } from './middleware/metrics';
import { rateLimiter } from './middleware/rateLimit';
import { bodyParsers, refuseNulCharacters } from './middleware/bodies';
import { trustProxies } from './middleware/proxy';
import { protoErrors } from './middleware/errors';
import { accessLog, requestId } from './middleware/requestId';
import { adminRoutes } from './routes/admin';
import { capabilityRoutes } from './routes/capabilities';
import { appserviceApi } from './routes/appservice';
import { miniappRoutes } from './routes/miniapps';
import { authRevokeRoutes, discoveryRoutes, oauth2Routes, oauthRoutes } from './routes/oauth';
import { oauthPageRoutes } from './routes/oauthPages';
import { openApiRoutes } from './routes/openapi';
import { p2pRoutes } from './routes/p2p';
import { paymentRoutes } from './routes/payments';
import { paymentMethodRoutes } from './routes/paymentMethods';
import { systemRoutes } from './routes/system';
import { giftRoutes } from './routes/gifts';
import { STORAGE_PATH, storageRoutes } from './routes/storage';
import { walletRoutes } from './routes/wallet';
import { walletCallbackRoutes } from './routes/walletCallback';
import { topUpRoutes } from './routes/topups';
import { merchantRoutes, withdrawalRoutes } from './routes/withdrawals';
import { withdrawalSecrets } from '../withdrawals/withdrawals';
import { providerRegistry } from '../providers/registry';
import type { AppState } from './state';
import { DomainError } from '../domain/errors';

export interface AppDeps {
  config: Config;
  pool: DatabasePool;
  keys: TepKeys;
  temporal: Temporal;
  log: Logger;
  /** Checks the Matrix access tokens of messenger calls; the homeserver's whoami by default. */
  matrixTokens?: MatrixTokenChecker;
  /** Cached client and session checks; the caller feeds them revocations (followAccessChanges). */
  access?: AccessChecks;
  /** Time and new ids of the services (systemClock unless a test fixes them). */
  clock?: Clock;
  /** Where rate-limit buckets live (bucketStore: PostgreSQL, or Redis with REDIS_URL); the caller closes it. */
  buckets: BucketStore;
  /** True once the process is stopping: /ready answers 503 while it drains. */
  draining?: () => boolean;
}

/**
 * Where the wallet's routes are: the original README's paths, and PROTO's own (PROTO 6-7 write
 * `/wallet/v1/balance` for `/api/v1/wallet/balance`). docs/protocol.md says why both.
 */
const WALLET = ['/api/v1/wallet', '/wallet/v1'];
/** PROTO's OAuth paths (`/oauth2/token`, `/oauth2/consent`, `/oauth2/device/authorization`, ...). */
const PROTO_OAUTH = '/oauth2';

/** One router served under each prefix: the same handlers and gates, not copies. */
function mountedAt(router: Router<AppState>, prefixes: readonly string[]): Router<AppState> {
  const mounted = new Router<AppState>();
  for (const prefix of prefixes) mounted.use(prefix, router.routes());
  return mounted;
}

/** A method a path does not serve, known to HTTP (PUT on a GET route) or not served anywhere here (TRACE): a 405 either way, not a 501. */
const methodRefused = () => new DomainError('METHOD_NOT_ALLOWED', 'This method is not allowed on this path');

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  app.silent = true; // errors are answered and logged by protoErrors, not printed by Koa
  const dataKey = required(deps.config.dataKey, 'DATA_ENCRYPTION_KEY');
  const verifyTep = cachedTepVerifier(deps.keys, deps.config.http.publicUrl);
  const access = deps.access ?? accessChecks(deps.pool);
  const matrixTokens = deps.matrixTokens ?? matrixTokenChecker(deps.config);
  const gates = callerGates({ verifyTep, access, matrixTokens });
  const { tep: auth, messenger } = gates;
  const limit = rateLimiter({ pool: deps.pool, store: deps.buckets, settings: deps.config.rateLimits, access });
  const clock = deps.clock ?? systemClock;
  const rooms = createRooms({ pool: deps.pool, matrix: deps.config.matrix, log: deps.log });
  const proofs = { pool: deps.pool, now: () => new Date(), lockout: deps.config.lockout, totpSealer: totpSealer(dataKey) };
  // Every grant's TEP carries the user's profile as user_context (PROTO 4.10).
  const oauth = { ...deps, userContexts: userContexts(deps.config.matrix, deps.log) };
  const providers = providerRegistry(deps.config.providers);
  const bodies = bodyParsers(deps.config.storage.quotaBytes);
  const routers = [
    systemRoutes(deps),
    mountedAt(walletRoutes({ ...deps, rooms, profiles: oauth.userContexts }, auth, gates.tepOrMatrix, limit), WALLET),
    capabilityRoutes(deps, auth, limit),
    matrixActionRoutes({ ...deps, rooms }, auth, limit),
    mountedAt(paymentMethodRoutes({ ...deps, ...proofs }, messenger, limit), WALLET),
    mountedAt(p2pRoutes({ ...deps, clock, rooms, ...p2pSecrets(dataKey) }, auth, limit), WALLET.map((p) => `${p}/p2p`)),
    paymentRoutes({ ...deps, clock, rooms, ...paymentSecrets(dataKey) }, auth, deps.config.adminToken, limit),
    walletCallbackRoutes({ ...deps, webhookSealer: webhookSealer(dataKey) }, limit),
    mountedAt(giftRoutes({ ...deps, clock, rooms, ...giftSecrets(dataKey) }, auth, limit), WALLET.map((p) => `${p}/gift`)),
    mountedAt(topUpRoutes({ ...deps, clock, providers, rooms }, gates.tepOrMatrix, limit), WALLET),
    mountedAt(withdrawalRoutes({ ...deps, clock, providers, ...withdrawalSecrets(dataKey) }, messenger, limit), WALLET),
    merchantRoutes({ ...deps, clock, providers, ...withdrawalSecrets(dataKey) }, limit),
    storageRoutes({ ...deps, cipher: storageCipher(parseStorageKeys(deps.config.storage.encryptionKeys, dataKey)) }, auth, bodies, limit),
    adminRoutes({ ...deps, buckets: deps.buckets }, deps.config.adminToken),
    miniappRoutes({ ...deps, webhookSealer: webhookSealer(dataKey) }, deps.config.adminToken),
    ...developerRoutes({ ...deps, webhookSealer: webhookSealer(dataKey), matrixTokens }, deps.config.adminToken, limit),
    mountedAt(oauthRoutes({ ...oauth, matrixTokens }, messenger, limit), ['/api/v1/oauth', PROTO_OAUTH]),
    authRevokeRoutes(deps, messenger, limit),
    mountedAt(oauth2Routes(oauth, messenger, limit), ['/api/v1/oauth2', PROTO_OAUTH]),
    discoveryRoutes(deps.config.http.publicUrl),
    oauthPageRoutes({ ...oauth, browserKeys: browserKeys(dataKey) }, limit),
    openApiRoutes(app, deps.config.http.publicUrl),
  ];

  trustProxies(app, deps.config.http.trustProxy);
  app.use(requestId(deps.log));
  app.use(httpMetrics());
  app.use(accessLog());
  app.use(protoErrors());
  app.use(appserviceApi({ pool: deps.pool, matrix: deps.config.matrix, startInvites: (invites) => startInviteSagas(deps, invites) }));
  app.use(refuseNulCharacters);
  // The storage routes parse their own bodies once the caller is authenticated (large only where a
  // route writes values); every other body is parsed here, and small.
  app.use((ctx, next) => (STORAGE_PATH.test(ctx.path) ? next() : bodies.small(ctx, next)));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true, methodNotAllowed: methodRefused, notImplemented: methodRefused }));
  }
  return app;
}
