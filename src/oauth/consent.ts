import { consentsOf, recordConsents, type Consent } from '../db/consents';
import { miniappById } from '../db/miniapps';
import type { DatabasePool } from '../db/pool';
import { DomainError } from '../domain/errors';
import { authorizeScopes } from '../domain/scopes';

export interface ConsentDeps {
  pool: DatabasePool;
}

function byApp(consents: readonly Consent[]) {
  const apps = new Map<string, { client_id: string; scopes: string[]; first_granted_at: string }>();
  for (const c of consents) {
    const entry = apps.get(c.client_id) ?? { client_id: c.client_id, scopes: [], first_granted_at: c.granted_at.toISOString() };
    entry.scopes.push(c.scope);
    apps.set(c.client_id, entry);
  }
  return [...apps.values()];
}

/**
 * The user approves scopes for a mini-app (PROTO 4.3.1 consent flow): each must be registered for
 * the app, which must be active. Later token exchanges grant them without asking.
 */
export async function approveScopes(deps: ConsentDeps, userId: string, clientId: string, scopes: readonly string[]) {
  const app = await miniappById(deps.pool, clientId);
  if (!app) throw new DomainError('MINIAPP_NOT_FOUND', 'Mini-app not found', { field: 'client_id', client_id: clientId });
  if (app.status !== 'active') throw new DomainError('INSUFFICIENT_PERMISSIONS', 'The mini-app is suspended', { field: 'client_id', client_id: clientId });
  const decision = authorizeScopes({ requested: scopes, registered: app.scopes, preApproved: [], approved: [] });
  const refused = [...decision.denied.map((d) => d.scope), ...decision.matrix];
  if (refused.length > 0) {
    throw new DomainError('INVALID_SCOPE', `Not registered for ${clientId}: ${refused.join(', ')}`, { field: 'scopes', client_id: clientId, scopes: refused });
  }
  await recordConsents(deps.pool, userId, clientId, [...decision.granted, ...decision.consentRequired]);
  const [approved] = byApp(await consentsOf(deps.pool, userId, clientId));
  return { user_id: userId, ...approved! };
}

/** Every approval the user has given, by mini-app. */
export async function listConsents(deps: ConsentDeps, userId: string) {
  return { user_id: userId, consents: byApp(await consentsOf(deps.pool, userId)) };
}
