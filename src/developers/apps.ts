import { miniappRecord, miniappsOfDeveloper, updateMiniapp, type ClientType, type MiniappRecord } from '../db/miniapps';
import { recordReview, reviewsOf } from '../db/developers';
import { DomainError } from '../domain/errors';
import { APPEALABLE_STATUSES, REVIEWABLE_STATUSES } from '../domain/miniapps';
import { createMiniapp, deleteMiniapp, miniappView, notFound, patchMiniapp, rotateAppWebhookSecret, rotateClientSecret, type RegistryDeps } from '../miniapps/admin';
import { appWebhookLog } from '../miniapps/webhookStarter';
import { announceRemoval, announceVersionChange, type AnnouncementDeps } from '../miniapps/announcements';
import { updateType } from '../domain/miniappEvents';
import { SYSTEM_BOTS } from '../matrix/bots';
import { invalidField } from '../domain/errors';

/** The registry and the updater bot's announcements. */
export type DeveloperAppDeps = RegistryDeps & AnnouncementDeps;

/**
 * Developer self-service (PROTO 9.1-9.3): a developer registers and changes their own mini-apps,
 * rotates their secrets, reads their webhook deliveries and appeals a rejection; an operator
 * reviews. A developer sees only their own apps: any other is "not found", as another user's
 * payment is. Every change is written to the app's review trail.
 */

export interface Registration {
  name: string;
  description?: string;
  clientType: ClientType;
  redirectUris: string[];
  webhookUrl?: string;
  scopes: string[];
  version?: string;
}

/** The developer's own app (never a backend twin, which goes with its app); anyone else's is not found. */
async function ownApp(deps: Pick<RegistryDeps, 'pool'>, developerId: string, clientId: string): Promise<MiniappRecord> {
  const app = await miniappRecord(deps.pool, clientId);
  if (!app || app.developer_id !== developerId || app.backend_of !== null || app.status === 'deleted') throw notFound(clientId);
  return app;
}

function withReviews(deps: Pick<RegistryDeps, 'pool'>, app: MiniappRecord) {
  return reviewsOf(deps.pool, app.client_id).then((rows) => ({
    ...miniappView(app),
    miniapp_id: app.client_id,
    reviews: rows.map((r) => ({ action: r.action, actor: r.actor, ...(r.reason ? { reason: r.reason } : {}), at: r.created_at.toISOString() })),
  }));
}

/**
 * PROTO 9.1.1: the app is registered `pending_review` (no token works for it until an operator
 * approves it), with PROTO's credentials answer: the secrets, shown once.
 */
export async function registerApp(deps: RegistryDeps, developerId: string, reg: Registration) {
  refuseSystemName(reg.name);
  const created = await createMiniapp(deps, {
    name: reg.name,
    clientType: reg.clientType,
    redirectUris: reg.redirectUris,
    scopes: reg.scopes,
    // Users approve every scope of a developer's app themselves; pre-approval is the operator's to grant.
    preApprovedScopes: [],
    ...(reg.webhookUrl ? { webhookUrl: reg.webhookUrl } : {}),
    firstParty: false,
    developer: { id: developerId, description: reg.description ?? null, ...(reg.version ? { version: reg.version } : {}) },
  });
  await recordReview(deps.pool, created.client_id, 'submitted', developerId, null);
  const webhook = 'webhook_secret' in created ? { webhook_secret: created.webhook_secret } : {};
  const credentials =
    'backend' in created && created.backend
      ? {
          public_client: { client_id: created.client_id, description: 'Frontend WebView mini-app' },
          confidential_client: { client_id: created.backend.client_id, client_secret: created.backend.client_secret, description: 'Backend server for webhook processing and background operations' },
          ...webhook,
        }
      : { client_id: created.client_id, ...('client_secret' in created && created.client_secret ? { client_secret: created.client_secret } : {}), ...webhook };
  return { miniapp_id: created.client_id, status: created.status, client_type: created.client_type, credentials, created_at: created.created_at };
}

export async function myApps(deps: Pick<RegistryDeps, 'pool'>, developerId: string) {
  return { mini_apps: (await miniappsOfDeveloper(deps.pool, developerId)).map((app) => ({ ...miniappView(app), miniapp_id: app.client_id })) };
}

export async function myApp(deps: Pick<RegistryDeps, 'pool'>, developerId: string, clientId: string) {
  return withReviews(deps, await ownApp(deps, developerId, clientId));
}

export interface AppUpdate {
  name?: string;
  description?: string;
  redirectUris?: string[];
  webhookUrl?: string | null;
  scopes?: string[];
  /** Only upwards; an approved app's rooms hear of it (m.tween.miniapp.updated). */
  version?: string;
}

/**
 * The developer changes their app. What users see of an approved app (its name, its version, which
 * the updater bot announces) and what it may ask of them (a new scope) goes back to review with the
 * change, in one UPDATE: no token works, and nothing is announced, until an operator approves it.
 * The rest (description, redirect URIs, webhook) applies at once.
 */
export async function updateApp(deps: DeveloperAppDeps, developerId: string, clientId: string, update: AppUpdate) {
  const app = await ownApp(deps, developerId, clientId);
  if (update.version !== undefined && updateType(app.version, update.version) === undefined) {
    throw invalidField('version', `must be above the current version ${app.version}`);
  }
  if (update.name !== undefined) refuseSystemName(update.name);
  const newScopes = update.scopes?.filter((s) => !app.scopes.includes(s)) ?? [];
  const renamed = update.name !== undefined && update.name !== app.name;
  const reviewed = newScopes.length > 0 || renamed || update.version !== undefined;
  const changed = await patchMiniapp(deps, clientId, {
    name: update.name,
    redirectUris: update.redirectUris,
    scopes: update.scopes,
    webhookUrl: update.webhookUrl,
    description: update.description,
    version: update.version,
    backToReview: reviewed,
  });
  const why = [newScopes.length > 0 ? `new scopes: ${newScopes.join(', ')}` : '', renamed ? `renamed from ${app.name}` : '', update.version ? `version ${update.version}` : ''].filter(Boolean).join('; ');
  await recordReview(deps.pool, clientId, 'updated', developerId, why || null);
  await announceVersionChange(deps, clientId);
  const now = await ownApp(deps, developerId, clientId);
  return { ...miniappView(now), miniapp_id: clientId, ...('webhook_secret' in changed ? { webhook_secret: changed.webhook_secret } : {}) };
}

/** The system bots' names are theirs: an app's bot named "Tween Payments" would pass for the payments bot. */
function refuseSystemName(name: string): void {
  const plain = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (Object.values(SYSTEM_BOTS).some((bot) => plain(bot.displayName) === plain(name))) {
    throw invalidField('name', "is a system bot's name");
  }
}

/** A new client secret: a confidential app's own, or a hybrid app's backend's; the old one stops working. */
export async function rotateMySecret(deps: RegistryDeps, developerId: string, clientId: string) {
  const app = await ownApp(deps, developerId, clientId);
  if (app.client_type === 'public') throw new DomainError('INVALID_REQUEST', 'A public client has no secret', { client_id: clientId, client_type: app.client_type });
  return rotateClientSecret(deps, app.client_type === 'hybrid' ? `${clientId}_backend` : clientId);
}

export async function rotateMyWebhookSecret(deps: RegistryDeps, developerId: string, clientId: string) {
  await ownApp(deps, developerId, clientId);
  return rotateAppWebhookSecret(deps, clientId, deps.config.webhookSecretOverlapSeconds);
}

export async function myWebhookLog(deps: RegistryDeps, developerId: string, clientId: string) {
  await ownApp(deps, developerId, clientId);
  return appWebhookLog(deps, clientId);
}

/** PROTO 9.3.4: a rejected or suspended app asks to be reviewed again. */
export async function appeal(deps: RegistryDeps, developerId: string, clientId: string, req: { reason: string; changesMade: string[] }) {
  const app = await ownApp(deps, developerId, clientId);
  if (!APPEALABLE_STATUSES.includes(app.status)) {
    throw new DomainError('INVALID_STATE', `The mini-app is ${app.status}: only a rejected or suspended one can appeal`, { miniapp_id: clientId, status: app.status });
  }
  await updateMiniapp(deps.pool, clientId, { status: 'appeal' });
  const text = req.changesMade.length > 0 ? `${req.reason} (changes: ${req.changesMade.join('; ')})` : req.reason;
  await recordReview(deps.pool, clientId, 'appealed', developerId, text);
  return { miniapp_id: clientId, status: 'under_review' as const, app_status: 'appeal' as const };
}

/** The developer deletes their app, as an operator would (src/miniapps/admin.ts: sessions revoked, users' data deleted). */
export async function deleteMyApp(deps: DeveloperAppDeps, developerId: string, clientId: string) {
  await ownApp(deps, developerId, clientId);
  const deleted = await deleteMiniapp(deps, clientId);
  await announceRemoval(deps, clientId, 'developer');
  return deleted;
}

/** An operator's decision on an app waiting for review (a registration, a change of scopes, or an appeal). */
export async function reviewApp(deps: DeveloperAppDeps, clientId: string, decision: { approve: boolean; reason?: string }) {
  const app = await miniappRecord(deps.pool, clientId);
  if (!app || app.backend_of !== null) throw notFound(clientId);
  if (!REVIEWABLE_STATUSES.includes(app.status)) {
    throw new DomainError('INVALID_STATE', `The mini-app is ${app.status}: only one pending review or appealing is reviewed`, { client_id: clientId, status: app.status });
  }
  const status = decision.approve ? 'active' : 'rejected';
  await updateMiniapp(deps.pool, clientId, { status });
  await recordReview(deps.pool, clientId, decision.approve ? 'approved' : 'rejected', 'operator', decision.reason ?? null);
  if (decision.approve) await announceVersionChange(deps, clientId);
  return withReviews(deps, (await miniappRecord(deps.pool, clientId))!);
}
