import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AccessChecks } from '../../auth/clients';
import type { MatrixTokenChecker } from '../../auth/matrixTokens';
import { TEP_PREFIX, type VerifiedTep } from '../../auth/tep';
import { DomainError } from '../../domain/errors';
import type { Scope } from '../../domain/scopes';
import type { AppContext, AppState } from '../state';

function bearer(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function requireScope(tep: VerifiedTep, scope: Scope): void {
  if (!tep.scopes.has(scope)) throw new DomainError('INSUFFICIENT_PERMISSIONS', `Missing required scope ${scope}`, { required_scope: scope });
}

/** Checks a TEP token (signature, issuer, times, audience) or throws INVALID_TOKEN. */
export type TepVerifier = (token: string) => Promise<VerifiedTep>;

export interface GateDeps {
  verifyTep: TepVerifier;
  access: Pick<AccessChecks, 'client' | 'sessionRevoked'>;
  matrixTokens: MatrixTokenChecker;
}

/**
 * The gates of the three kinds of callers that carry a user's token (ARCHITECTURE: one gate per
 * kind of caller). Every TEP, whichever gate takes it, passes the same checks in `checkTep`:
 * signature, issuer, times and audience; a registered, active client; a session not revoked
 * (PROTO 4.12, 5.6). A route picks a gate and a scope and never checks a token itself.
 */
export function callerGates(deps: GateDeps) {
  /** The checks every TEP passes, in one place: a bad or expired token, one of a suspended or unknown client or of a revoked session is 401 INVALID_TOKEN. */
  async function checkTep(token: string) {
    const tep = await deps.verifyTep(token);
    const client = await deps.access.client(tep.clientId);
    if (!client.active) throw new DomainError('INVALID_TOKEN', 'The mini-app this token was issued to is suspended or not registered', { client_id: tep.clientId });
    if (await deps.access.sessionRevoked(tep.claims.session_id)) throw new DomainError('INVALID_TOKEN', 'The session of this token was revoked');
    return { tep, firstParty: client.firstParty };
  }

  /** A mini-app's TEP with the endpoint's scope, if it names one (PROTO 4.12, 5.2): no token 401, a token without the scope 403 INSUFFICIENT_PERMISSIONS. */
  const tep = (scope?: Scope): Middleware<AppState> =>
    async (ctx, next) => {
      const token = bearer(ctx.get('authorization'));
      if (!token) throw new DomainError('INVALID_TOKEN', 'Missing TEP token');
      const checked = await checkTep(token);
      if (scope) requireScope(checked.tep, scope);
      ctx.state.tep = checked.tep;
      ctx.state.caller = { userId: checked.tep.userId, clientId: checked.tep.clientId, firstParty: checked.firstParty };
      await next();
    };

  /**
   * For what only the user's own messenger may do (payment factors, wallet settings, consents,
   * device approvals): the user's Matrix access token, checked at the homeserver, or a TEP with the
   * scope issued to a client the registry marks first_party. A TEP of any other mini-app is refused
   * whatever its scopes: a mini-app is exactly the party a second factor exists to stop.
   */
  const messenger = (scope: Scope): Middleware<AppState> =>
    async (ctx, next) => {
      const token = bearer(ctx.get('authorization'));
      if (!token) throw new DomainError('INVALID_TOKEN', 'Missing Matrix access token or TEP token');
      if (token.startsWith(TEP_PREFIX)) {
        const checked = await checkTep(token);
        requireScope(checked.tep, scope);
        if (!checked.firstParty) {
          throw new DomainError('INSUFFICIENT_PERMISSIONS', "Only the user's own messenger can do this (a Matrix session or a first-party client)", {
            client_id: checked.tep.clientId,
          });
        }
        ctx.state.tep = checked.tep;
        ctx.state.caller = { userId: checked.tep.userId, clientId: checked.tep.clientId, firstParty: true };
        ctx.state.messengerUser = checked.tep.userId;
      } else {
        ctx.state.messengerUser = await deps.matrixTokens.userIdOf(token);
      }
      await next();
    };

  /**
   * A TEP with the scope, or the user's own Matrix access token (checked at the homeserver): for what
   * a messenger may do for its user as well as a mini-app, such as registering the wallet (PROTO 6.3.4).
   * Sets `tep` or `messengerUser`.
   */
  const tepOrMatrix = (scope: Scope): Middleware<AppState> => {
    const tepChecked = tep(scope);
    return async (ctx, next) => {
      const token = bearer(ctx.get('authorization'));
      if (!token || token.startsWith(TEP_PREFIX)) return tepChecked(ctx, next);
      ctx.state.messengerUser = await deps.matrixTokens.userIdOf(token);
      await next();
    };
  };

  return { tep, messenger, tepOrMatrix };
}

export type CallerGates = ReturnType<typeof callerGates>;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Operator endpoints: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function adminAuth(adminToken: string | undefined): Middleware<AppState> {
  const isAdmin = adminTokenCheck(adminToken);
  return async (ctx, next) => {
    const token = bearer(ctx.get('authorization'));
    if (!token) throw new DomainError('INVALID_TOKEN', 'Missing admin token');
    if (!isAdmin(token)) throw new DomainError('INVALID_TOKEN', 'Invalid admin token');
    await next();
  };
}

/** Whether a request's `Authorization: Bearer` is the admin token (compared in constant time). */
export function adminTokenCheck(adminToken: string | undefined): (token: string | undefined) => boolean {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return (token) => expected !== undefined && token !== undefined && timingSafeEqual(digest(token), expected);
}

/** The bearer token of a request's Authorization header. */
export function bearerToken(ctx: AppContext): string | undefined {
  return bearer(ctx.get('authorization'));
}
