import { randomInt } from 'node:crypto';
import { TMCP_STATUS, clientAttribute } from '../domain/searchAttributes';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config';
import type { TepKeys } from '../auth/keys';
import { newSecret, sha256Hex } from '../crypto/secrets';
import { deviceGrantByDeviceCode, insertDeviceGrant, liveDeviceGrantByUserCode, markGrantRedeemed, releaseUserCodeLookup, reserveUserCodeLookup, type DeviceGrantRow } from '../db/deviceGrants';
import { miniappById, type Miniapp, type OAuthClient } from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import {
  deviceWorkflowId,
  formatUserCode,
  normalizeUserCode,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
  type DeviceGrantInput,
  type DeviceOutcome,
} from '../domain/deviceGrant';
import { DomainError, invalidField } from '../domain/errors';
import { authorizeScopes, parseScopeString, registeredInOrder } from '../domain/scopes';
import { newId } from '../ids';
import type { Logger } from '../logger';
import type { Temporal } from '../temporal/client';
import { isWorkflowGone } from '../temporal/failures';
import { decideDevice, pollDevice } from '../../workflows/deviceMessages';
import type { deviceGrant } from '../../workflows/deviceGrant';
import { OAuthError } from './errors';
import { recordSession, sessionTokens } from './sessions';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 3.2 values of the original README: codes live 15 minutes, polls every 5 seconds. */
export const DEVICE_CODE_TTL_SECONDS = 900;
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
/** Wrong user codes one client address may enter per window before it is refused (RFC 8628 5.1). */
export const USER_CODE_FAILURE_LIMIT = 10;
export const USER_CODE_FAILURE_WINDOW_MINUTES = 15;
export const DEVICE_VERIFICATION_PATH = '/api/v1/oauth2/device';

export interface DeviceGrantDeps {
  pool: DatabasePool;
  keys: TepKeys;
  temporal: Temporal;
  log: Logger;
  config: Pick<Config, 'tep' | 'http' | 'sagaAnswerTimeoutMs'>;
}

function drawUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i += 1) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** Temporal gives up after the saga answer timeout: an unreachable worker is a retryable 503, not a hang. */
function withDeadline<T>(deps: DeviceGrantDeps, call: () => Promise<T>): Promise<T> {
  return deps.temporal.client.withDeadline(Date.now() + deps.config.sagaAnswerTimeoutMs, call);
}

function unavailable(deps: DeviceGrantDeps, err: unknown, what: string): OAuthError {
  deps.log.error({ err }, `device grant: ${what} failed`);
  return new OAuthError('temporarily_unavailable', 'The authorization service cannot answer right now; retry', {}, 5);
}

/**
 * RFC 8628 3.1-3.2: a device asks for codes. The scopes (default: the app's pre-approved ones) must
 * be registered for the app; the user sees them all and approves or denies them as a whole. The
 * grant's workflow starts here and owns everything after.
 */
export async function authorizeDevice(deps: DeviceGrantDeps, client: OAuthClient, scope: string | undefined) {
  const requested = scope === undefined ? client.pre_approved_scopes : parseScopeString(scope);
  if (requested.length === 0) throw new OAuthError('invalid_scope', 'scope names no scope');
  const decision = authorizeScopes({ requested, registered: client.scopes, preApproved: [], approved: [] });
  const refused = [...decision.denied.map((d) => d.scope), ...decision.matrix];
  if (refused.length > 0) throw new OAuthError('invalid_scope', `Not registered for ${client.client_id}: ${refused.join(' ')}`);
  const scopes = registeredInOrder(requested, decision);

  const grantId = newId('deviceGrant');
  const deviceCode = newSecret('dc');
  let userCode = drawUserCode();
  // 20^8 codes: a collision with a live grant is rare; draw again when it happens.
  while (!(await insertDeviceGrant(deps.pool, { id: grantId, clientId: client.client_id, scopes, userCode, deviceCodeHash: deviceCode.hash, expiresInSeconds: DEVICE_CODE_TTL_SECONDS }))) {
    userCode = drawUserCode();
  }
  const input: DeviceGrantInput = {
    grantId,
    clientId: client.client_id,
    scopes,
    expiresInMs: DEVICE_CODE_TTL_SECONDS * 1000,
    intervalMs: DEVICE_POLL_INTERVAL_SECONDS * 1000,
  };
  try {
    await withDeadline(deps, () =>
      deps.temporal.client.workflow.start<typeof deviceGrant>('deviceGrant', {
        workflowId: deviceWorkflowId(grantId),
        taskQueue: deps.temporal.taskQueue,
        args: [input],
        // The workflow ends by itself at expiry; this only bounds a stuck one.
        workflowExecutionTimeout: `${DEVICE_CODE_TTL_SECONDS * 2} seconds`,
        staticSummary: `Device grant ${grantId} of ${client.client_id} for ${scopes.join(' ')}`,
        typedSearchAttributes: [{ key: TMCP_STATUS, value: 'pending' }, ...clientAttribute(client.client_id)],
      }),
    );
  } catch (err) {
    throw unavailable(deps, err, 'start');
  }
  const verificationUri = `${deps.config.http.publicUrl}${DEVICE_VERIFICATION_PATH}`;
  const shown = formatUserCode(userCode);
  deps.log.info({ grant_id: grantId, client_id: client.client_id, scopes }, 'device authorization started');
  return {
    device_code: deviceCode.secret,
    user_code: shown,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${shown}`,
    expires_in: DEVICE_CODE_TTL_SECONDS,
    interval: DEVICE_POLL_INTERVAL_SECONDS,
  };
}

const CLOSED_ANSWERS: Record<DeviceOutcome, OAuthError> = {
  redeemed: new OAuthError('invalid_grant', 'device_code was already redeemed'),
  denied: new OAuthError('access_denied', 'The user denied the request'),
  expired: new OAuthError('expired_token', 'device_code has expired; start again'),
};

/**
 * RFC 8628 3.4-3.5: the device polls. The grant's workflow answers (pending, slow_down, denied,
 * expired, or the approval exactly once); the tokens are minted here from that one answer, the
 * session and the grant's redemption written in one transaction. Should that write fail, the
 * approval is not lost: the workflow has handed it out, but the grant is not redeemed in
 * PostgreSQL, and the next poll redeems it from the approval kept with the grant.
 */
export async function pollDeviceGrant(deps: DeviceGrantDeps, client: OAuthClient, deviceCode: string) {
  const grant = await deviceGrantByDeviceCode(deps.pool, sha256Hex(deviceCode));
  if (!grant || grant.client_id !== client.client_id) throw new OAuthError('invalid_grant', 'device_code is not valid for this client');
  if (grant.redeemed_at) throw CLOSED_ANSWERS.redeemed;
  const handle = deps.temporal.client.workflow.getHandle<typeof deviceGrant>(deviceWorkflowId(grant.id));
  let answer;
  try {
    answer = await withDeadline(deps, () => handle.executeUpdate(pollDevice));
  } catch (err) {
    if (!isWorkflowGone(err)) throw unavailable(deps, err, 'poll');
    // The workflow has closed: its result says how the grant ended.
    const outcome = await withDeadline(deps, () => handle.result()).catch(() => 'expired' as const);
    if (outcome === 'redeemed') return redeemAgain(deps, client, grant);
    throw CLOSED_ANSWERS[outcome];
  }
  switch (answer.outcome) {
    case 'approved':
      return redeem(deps, client, grant, { ...answer.approval, scopes: answer.scopes });
    case 'slow_down':
      throw new OAuthError('slow_down', `Polling too fast: wait ${answer.intervalMs / 1000} seconds between requests`, { interval: answer.intervalMs / 1000 });
    case 'authorization_pending':
      throw new OAuthError('authorization_pending', 'The user has not answered yet');
    case 'access_denied':
      throw CLOSED_ANSWERS.denied;
    case 'expired_token':
      throw CLOSED_ANSWERS.expired;
    case 'invalid_grant':
      return redeemAgain(deps, client, grant);
  }
}

/** The tokens of an approved grant: the session and the grant's redemption commit together, once. */
async function redeem(deps: DeviceGrantDeps, client: OAuthClient, grant: DeviceGrantRow, approval: { userId: string; walletId: string; scopes: readonly string[] }) {
  const session = { userId: approval.userId, clientId: client.client_id, scopes: approval.scopes, walletId: approval.walletId };
  let recorded;
  try {
    recorded = await deps.pool.transaction(async (tx) => ((await markGrantRedeemed(tx, grant.id)) ? recordSession(tx, deps, session) : undefined));
  } catch (err) {
    throw unavailable(deps, err, 'redemption');
  }
  if (!recorded) throw CLOSED_ANSWERS.redeemed;
  deps.log.info({ grant_id: grant.id, client_id: client.client_id, user_id: approval.userId }, 'device grant redeemed');
  return { ...(await sessionTokens(deps, session, recorded)), user_id: approval.userId, wallet_id: approval.walletId };
}

/**
 * The workflow handed the approval out already: redeemed, unless writing the tokens failed then.
 * In that case the approval kept with the grant is redeemed now, within the grant's life and one
 * more (the workflow's own bound).
 */
function redeemAgain(deps: DeviceGrantDeps, client: OAuthClient, grant: DeviceGrantRow) {
  const late = Date.now() > grant.expires_at.getTime() + DEVICE_CODE_TTL_SECONDS * 1000;
  if (!grant.approved_user_id || !grant.approved_wallet_id || late) throw CLOSED_ANSWERS.redeemed;
  return redeem(deps, client, grant, { userId: grant.approved_user_id, walletId: grant.approved_wallet_id, scopes: grant.scopes });
}

export interface PendingDeviceGrant {
  grant: DeviceGrantRow;
  app: Miniapp;
  userCode: string;
}

/**
 * The live grant a user's typed code names, for the page and the messenger. Every lookup is counted
 * per client address before it is made, and given back when the code was right, so only wrong
 * codes add up; past the limit every lookup from the address is refused for a while (429).
 */
export async function grantForUserCode(deps: Pick<DeviceGrantDeps, 'pool'>, typed: string, address: string): Promise<PendingDeviceGrant> {
  if ((await reserveUserCodeLookup(deps.pool, address, USER_CODE_FAILURE_WINDOW_MINUTES)) > USER_CODE_FAILURE_LIMIT) {
    throw new DomainError('RATE_LIMIT_EXCEEDED', 'Too many wrong codes; try again later', { field: 'user_code', retry_after_seconds: USER_CODE_FAILURE_WINDOW_MINUTES * 60 });
  }
  const code = normalizeUserCode(typed);
  const grant = code === undefined ? null : await liveDeviceGrantByUserCode(deps.pool, code);
  const app = grant && (await miniappById(deps.pool, grant.client_id));
  if (!grant || !app || app.status !== 'active') throw invalidField('user_code', 'is not a valid code, or it has expired');
  await releaseUserCodeLookup(deps.pool, address);
  return { grant, app, userCode: formatUserCode(grant.user_code) };
}

/** The user's answer to a grant, sent to its workflow. */
export async function decideDeviceGrant(deps: DeviceGrantDeps, grantId: string, userId: string, decision: 'approve' | 'deny') {
  const handle = deps.temporal.client.workflow.getHandle<typeof deviceGrant>(deviceWorkflowId(grantId));
  try {
    // Named after the user and the decision: the same answer sent again (a retry, a double click)
    // is the same Update, and Temporal answers it with the first one's outcome.
    const { status } = await withDeadline(deps, () => handle.executeUpdate(decideDevice, { args: [{ userId, decision }], updateId: `decide-${userId}-${decision}` }));
    deps.log.info({ grant_id: grantId, user_id: userId, status }, 'device grant decided');
    return status;
  } catch (err) {
    const failure = err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure ? err.cause : undefined;
    if (failure?.type === 'already_decided') throw new DomainError('INVALID_STATE', 'This code was already used', { field: 'user_code' });
    if (failure?.type === 'expired_token' || isWorkflowGone(err)) throw invalidField('user_code', 'has expired');
    deps.log.error({ err, grant_id: grantId }, 'device grant: decision failed');
    throw new DomainError('SERVICE_UNAVAILABLE', 'The authorization service cannot answer right now; retry', { retry_after_seconds: 5 });
  }
}
