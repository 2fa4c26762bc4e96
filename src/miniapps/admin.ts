import type { Config } from '../config';
import { createSealer, type Sealer } from '../crypto/sealing';
import { newSecret } from '../crypto/secrets';
import {
  insertMiniapp,
  listMiniapps,
  miniappRecord,
  removeMiniapp,
  replaceSecretHash,
  rotateWebhookSecret,
  updateMiniapp,
  type ClientType,
  type MiniappChange,
  type MiniappRecord,
} from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import { DomainError, invalidField } from '../domain/errors';
import { newId } from '../ids';
import { literalDestinationRefusal } from './destinations';

export interface RegistryDeps {
  pool: DatabasePool;
  config: Pick<Config, 'wallet' | 'webhookSecretOverlapSeconds' | 'webhookAllowPrivate'>;
  /** Seals webhook secrets (they sign, so they must be read back); from DATA_ENCRYPTION_KEY. */
  webhookSealer: Sealer;
}

export function webhookSealer(dataKey: Buffer): Sealer {
  return createSealer(dataKey, 'webhook-secret');
}

export interface MiniappInput {
  name: string;
  clientType: ClientType;
  redirectUris: string[];
  scopes: string[];
  preApprovedScopes: string[];
  webhookUrl?: string;
  firstParty: boolean;
  /** A developer's own registration (PROTO 9.1), which waits for an operator's review. */
  developer?: { id: string; description: string | null; version?: string };
}

const BACKEND_SUFFIX = '_backend';

/** The webhook secret signs, so it is kept sealed rather than hashed. The URL must lead somewhere public (unless allowed). */
function sealedWebhook(deps: RegistryDeps, clientId: string, url: string) {
  const refusal = deps.config.webhookAllowPrivate ? undefined : literalDestinationRefusal(new URL(url));
  if (refusal) throw invalidField('webhook_url', `must lead to a public address: ${refusal}`);
  const { secret } = newSecret('whsec');
  return { secret, stored: { url, sealedSecret: deps.webhookSealer.seal(secret, clientId) } };
}

/** What the registry shows of a client: never a secret, only whether it has one. */
export function miniappView(app: MiniappRecord) {
  return {
    client_id: app.client_id,
    name: app.name,
    client_type: app.client_type,
    status: app.status,
    first_party: app.first_party,
    redirect_uris: app.redirect_uris,
    scopes: app.scopes,
    pre_approved_scopes: app.pre_approved_scopes,
    webhook_url: app.webhook_url,
    has_client_secret: app.has_secret,
    ...(app.backend_of ? { backend_of: app.backend_of } : {}),
    ...(app.developer_id ? { developer_id: app.developer_id } : {}),
    ...(app.description ? { description: app.description } : {}),
    version: app.version,
    source: app.source,
    created_at: app.created_at.toISOString(),
    updated_at: app.updated_at.toISOString(),
  };
}

/**
 * Registers a mini-app (PROTO 4.2). A confidential client gets a client secret. A hybrid app's
 * front end runs in a browser, so it is a public client (PROTO 4.7.2: PKCE and the device grant, no
 * secret); its server side is the confidential twin `<client_id>_backend` (PROTO 9.1.2), the only
 * one of the two that authenticates merchant calls. An app with a webhook URL gets the secret its
 * webhooks are signed with. Every secret is in this answer and nowhere else.
 */
export async function createMiniapp(deps: RegistryDeps, input: MiniappInput) {
  const clientId = newId('miniapp');
  const currency = deps.config.wallet.defaultCurrency;
  const own = input.clientType === 'confidential' ? newSecret('cs') : undefined;
  const webhook = input.webhookUrl ? sealedWebhook(deps, clientId, input.webhookUrl) : undefined;
  const backendSecret = input.clientType === 'hybrid' ? newSecret('cs') : undefined;
  const app = await deps.pool.transaction(async (tx) => {
    const created = await insertMiniapp(tx, {
      clientId,
      name: input.name,
      clientType: input.clientType,
      redirectUris: input.redirectUris,
      scopes: input.scopes,
      preApprovedScopes: input.preApprovedScopes,
      firstParty: input.firstParty,
      secretHash: own?.hash ?? null,
      webhookUrl: webhook?.stored.url ?? null,
      sealedWebhookSecret: webhook?.stored.sealedSecret ?? null,
      backendOf: null,
      ...(input.developer ? { developer: input.developer } : {}),
    }, currency);
    if (backendSecret) {
      await insertMiniapp(tx, {
        clientId: `${clientId}${BACKEND_SUFFIX}`,
        name: `${input.name} (backend)`,
        clientType: 'confidential',
        redirectUris: [],
        scopes: input.scopes,
        preApprovedScopes: input.preApprovedScopes,
        firstParty: false,
        secretHash: backendSecret.hash,
        webhookUrl: null,
        sealedWebhookSecret: null,
        backendOf: clientId,
        ...(input.developer ? { developer: { id: input.developer.id, description: null } } : {}),
      }, null); // the app's merchant account is the one it is paid into
    }
    return created;
  });
  return {
    ...miniappView(app),
    ...(own ? { client_secret: own.secret } : {}),
    ...(backendSecret ? { backend: { client_id: `${clientId}${BACKEND_SUFFIX}`, client_secret: backendSecret.secret } } : {}),
    ...(webhook ? { webhook_secret: webhook.secret } : {}),
  };
}

export function notFound(clientId: string): DomainError {
  return new DomainError('MINIAPP_NOT_FOUND', 'Mini-app not found', { client_id: clientId });
}

/** The app an operator changes: one that exists and was not deleted (deletion is final). */
async function changeableRecord(deps: Pick<RegistryDeps, 'pool'>, clientId: string) {
  const app = await miniappRecord(deps.pool, clientId);
  if (!app) throw notFound(clientId);
  if (app.status === 'deleted') throw new DomainError('INVALID_STATE', 'The mini-app was deleted; register a new one', { client_id: clientId, status: 'deleted' });
  return app;
}

/** Every registered mini-app, as the operator sees it. */
export async function listMiniappViews(deps: Pick<RegistryDeps, 'pool'>) {
  return { mini_apps: (await listMiniapps(deps.pool)).map(miniappView) };
}

export async function getMiniapp(deps: Pick<RegistryDeps, 'pool'>, clientId: string) {
  const app = await miniappRecord(deps.pool, clientId);
  if (!app) throw notFound(clientId);
  return miniappView(app);
}

export interface MiniappPatch {
  name?: string;
  redirectUris?: string[];
  scopes?: string[];
  preApprovedScopes?: string[];
  /** null removes the webhook; a new URL gets a new webhook secret (answered once). */
  webhookUrl?: string | null;
  status?: MiniappChange['status'];
  backToReview?: boolean;
  description?: string;
  version?: string;
}

/** Changes a mini-app. Suspending it (or its backend twin with it) stops every token it holds at once. */
export async function patchMiniapp(deps: RegistryDeps, clientId: string, patch: MiniappPatch) {
  const current = await changeableRecord(deps, clientId);
  const scopes = patch.scopes ?? current.scopes;
  const preApproved = patch.preApprovedScopes ?? current.pre_approved_scopes.filter((s) => scopes.includes(s));
  const outside = preApproved.filter((s) => !scopes.includes(s));
  if (outside.length > 0) throw invalidField('pre_approved_scopes', `must be a subset of scopes (not: ${outside.join(', ')})`);
  const webhook = patch.webhookUrl ? sealedWebhook(deps, clientId, patch.webhookUrl) : undefined;
  const app = await updateMiniapp(deps.pool, clientId, {
    name: patch.name,
    redirectUris: patch.redirectUris,
    scopes: patch.scopes,
    preApprovedScopes: patch.scopes || patch.preApprovedScopes ? preApproved : undefined,
    webhook: patch.webhookUrl === null ? null : webhook?.stored,
    status: patch.status,
    backToReview: patch.backToReview,
    description: patch.description,
    version: patch.version,
  });
  if (!app) throw notFound(clientId);
  return { ...miniappView(app), ...(webhook ? { webhook_secret: webhook.secret } : {}) };
}

/**
 * Deletes a mini-app (and its backend twin) for good: it is marked deleted (so every TEP it holds is
 * refused at once, as for a suspension), every session it has is revoked, and its users' approvals
 * and stored values are deleted, in one transaction. Its payments, refunds and merchant account stay:
 * money history is never deleted. Deleting it again answers the same, with nothing left to do.
 */
export async function deleteMiniapp(deps: Pick<RegistryDeps, 'pool'>, clientId: string) {
  return deps.pool.transaction(async (tx) => {
    const app = await miniappRecord(tx, clientId);
    if (!app || app.backend_of) throw notFound(clientId);
    const removed = await removeMiniapp(tx, clientId);
    return { client_id: clientId, deleted: true as const, revoked_sessions: removed.sessions, deleted_values: removed.values, withdrawn_consents: removed.consents };
  });
}

/**
 * A new webhook secret, answered once. The previous one keeps signing beside it (a second `v1=` in
 * X-TMCP-Signature) for `overlapSeconds`, so the backend can switch without refusing deliveries.
 */
export async function rotateAppWebhookSecret(deps: RegistryDeps, clientId: string, overlapSeconds: number) {
  await changeableRecord(deps, clientId);
  const { secret } = newSecret('whsec');
  if (!(await rotateWebhookSecret(deps.pool, clientId, deps.webhookSealer.seal(secret, clientId), overlapSeconds))) {
    throw new DomainError('INVALID_REQUEST', 'The mini-app has no webhook URL; set webhook_url first', { client_id: clientId, field: 'webhook_url' });
  }
  return { client_id: clientId, webhook_secret: secret, previous_secret_valid_until: new Date(Date.now() + overlapSeconds * 1000).toISOString() };
}

/** A new client secret for a confidential client (a backend twin included); the old one stops working. */
export async function rotateClientSecret(deps: Pick<RegistryDeps, 'pool'>, clientId: string) {
  const app = await changeableRecord(deps, clientId);
  if (!app.has_secret) throw new DomainError('INVALID_REQUEST', 'A public client has no secret', { client_id: clientId, client_type: app.client_type });
  const fresh = newSecret('cs');
  if (!(await replaceSecretHash(deps.pool, clientId, fresh.hash))) throw notFound(clientId);
  return { client_id: clientId, client_secret: fresh.secret };
}
