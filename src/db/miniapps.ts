import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import type { DatabaseConnection } from './pool';

import { CLIENT_TYPES, MINIAPP_STATUSES, type ClientType } from '../domain/miniapps';

export { CLIENT_TYPES, MINIAPP_STATUSES, type ClientType } from '../domain/miniapps';

export const MiniappRow = z.object({
  client_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  pre_approved_scopes: z.array(z.string()),
  status: z.enum(MINIAPP_STATUSES),
  first_party: z.boolean(),
});
export type Miniapp = z.infer<typeof MiniappRow>;

/** Everything the registry keeps of a client but its secrets. */
const MiniappRecordRow = MiniappRow.extend({
  client_type: z.enum(CLIENT_TYPES),
  redirect_uris: z.array(z.string()),
  webhook_url: z.string().nullable(),
  backend_of: z.string().nullable(),
  source: z.enum(['file', 'api']),
  has_secret: z.boolean(),
  developer_id: z.string().nullable(),
  description: z.string().nullable(),
  version: z.string(),
  announced_version: z.string().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
});
export type MiniappRecord = z.infer<typeof MiniappRecordRow>;

const RECORD_COLUMNS = sql.fragment`
  client_id, name, scopes, pre_approved_scopes, status, first_party, client_type, redirect_uris,
  webhook_url, backend_of, source, secret_hash IS NOT NULL AS has_secret, developer_id, description, version, announced_version, created_at, updated_at`;

export interface NewMiniapp {
  clientId: string;
  name: string;
  clientType: ClientType;
  redirectUris: string[];
  scopes: string[];
  preApprovedScopes: string[];
  firstParty: boolean;
  secretHash: string | null;
  webhookUrl: string | null;
  sealedWebhookSecret: string | null;
  backendOf: string | null;
  /** A developer's registration (PROTO 9.1): theirs, waiting for review. */
  developer?: { id: string; description: string | null; version?: string };
}

/** Registers a client made through the admin API, with its merchant account in `currency` when one is given. */
export async function insertMiniapp(db: DatabaseConnection, app: NewMiniapp, currency: Currency | null): Promise<MiniappRecord> {
  const row = await db.one(sql.type(MiniappRecordRow)`
    INSERT INTO miniapps (client_id, name, client_type, redirect_uris, scopes, pre_approved_scopes, first_party,
                          secret_hash, webhook_url, sealed_webhook_secret, backend_of, source, status, developer_id, description, version)
    VALUES (${app.clientId}, ${app.name}, ${app.clientType}, ${sql.array(app.redirectUris, 'text')}, ${sql.array(app.scopes, 'text')},
            ${sql.array(app.preApprovedScopes, 'text')}, ${app.firstParty}, ${app.secretHash}, ${app.webhookUrl},
            ${app.sealedWebhookSecret}, ${app.backendOf}, 'api', ${app.developer ? 'pending_review' : 'active'},
            ${app.developer?.id ?? null}, ${app.developer?.description ?? null}, ${app.developer?.version ?? '1.0.0'})
    RETURNING ${RECORD_COLUMNS}`);
  if (currency) await db.query(sql.unsafe`INSERT INTO accounts (kind, owner, currency) VALUES ('merchant', ${app.clientId}, ${currency}) ON CONFLICT DO NOTHING`);
  return row;
}

export function miniappRecord(db: DatabaseConnection, clientId: string): Promise<MiniappRecord | null> {
  return db.maybeOne(sql.type(MiniappRecordRow)`SELECT ${RECORD_COLUMNS} FROM miniapps WHERE client_id = ${clientId}`);
}

/** A developer's own apps (never the backend twins, which go with their app). */
export function miniappsOfDeveloper(db: DatabaseConnection, developerId: string): Promise<readonly MiniappRecord[]> {
  return db.any(sql.type(MiniappRecordRow)`
    SELECT ${RECORD_COLUMNS} FROM miniapps WHERE developer_id = ${developerId} AND backend_of IS NULL ORDER BY created_at, client_id`);
}

export function listMiniapps(db: DatabaseConnection): Promise<readonly MiniappRecord[]> {
  return db.any(sql.type(MiniappRecordRow)`SELECT ${RECORD_COLUMNS} FROM miniapps ORDER BY created_at, client_id`);
}

export interface MiniappChange {
  name?: string;
  redirectUris?: string[];
  scopes?: string[];
  preApprovedScopes?: string[];
  webhook?: { url: string; sealedSecret: string } | null;
  status?: (typeof MINIAPP_STATUSES)[number];
  /** An approved app goes back to review with this change (in the same UPDATE, so no token sees the change unreviewed). */
  backToReview?: boolean;
  description?: string;
  version?: string;
}

/** Changes a client; a status change applies to its backend twin too. Null when there is no such client. */
export async function updateMiniapp(db: DatabaseConnection, clientId: string, change: MiniappChange): Promise<MiniappRecord | null> {
  const sets = [
    change.name !== undefined && sql.fragment`name = ${change.name}`,
    change.redirectUris && sql.fragment`redirect_uris = ${sql.array(change.redirectUris, 'text')}`,
    change.scopes && sql.fragment`scopes = ${sql.array(change.scopes, 'text')}`,
    change.preApprovedScopes && sql.fragment`pre_approved_scopes = ${sql.array(change.preApprovedScopes, 'text')}`,
    change.webhook !== undefined && sql.fragment`webhook_url = ${change.webhook?.url ?? null}, sealed_webhook_secret = ${change.webhook?.sealedSecret ?? null}`,
    change.status && sql.fragment`status = ${change.status}`,
    !change.status && change.backToReview && sql.fragment`status = CASE WHEN status = 'active' THEN 'pending_review' ELSE status END`,
    change.description !== undefined && sql.fragment`description = ${change.description}`,
    change.version !== undefined && sql.fragment`version = ${change.version}`,
    sql.fragment`updated_at = now()`,
  ].filter((f) => f !== false && f !== undefined);
  return db.transaction(async (tx) => {
    const row = await tx.maybeOne(sql.type(MiniappRecordRow)`
      UPDATE miniapps SET ${sql.join(sets, sql.fragment`, `)} WHERE client_id = ${clientId} RETURNING ${RECORD_COLUMNS}`);
    if (row && (change.status || change.backToReview)) {
      await tx.query(sql.unsafe`UPDATE miniapps SET status = ${row.status}, updated_at = now() WHERE backend_of = ${clientId}`);
    }
    return row;
  });
}

/** Records the version the app's rooms were told of, if it is still `previous` (so two racing changes tell it once). */
export async function markVersionAnnounced(db: DatabaseConnection, clientId: string, previous: string | null, version: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ client_id: z.string() }))`
    UPDATE miniapps SET announced_version = ${version}
    WHERE client_id = ${clientId} AND announced_version IS NOT DISTINCT FROM ${previous} RETURNING client_id`);
  return row !== null;
}

/** Replaces a client's secret hash; false when the client has none (public) or does not exist. */
export async function replaceSecretHash(db: DatabaseConnection, clientId: string, secretHash: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ client_id: z.string() }))`
    UPDATE miniapps SET secret_hash = ${secretHash}, updated_at = now()
    WHERE client_id = ${clientId} AND secret_hash IS NOT NULL RETURNING client_id`);
  return row !== null;
}

/** The client's status, or null when the registry does not know it. */
export function miniappStatus(db: DatabaseConnection, clientId: string): Promise<Miniapp['status'] | null> {
  return db.maybeOneFirst(sql.type(z.object({ status: z.enum(MINIAPP_STATUSES) }))`SELECT status FROM miniapps WHERE client_id = ${clientId}`);
}

export interface MiniappDefinition {
  client_id: string;
  name: string;
  scopes: string[];
  pre_approved_scopes: string[];
  /** The user's own messenger rather than a mini-app: it may manage payment factors and wallet settings. */
  first_party: boolean;
}

/** Inserts or updates each mini-app of the file (never one made through the admin API) and makes sure it has a merchant account in `currency`. */
export async function upsertMiniapps(db: DatabaseConnection, apps: readonly MiniappDefinition[], currency: Currency): Promise<void> {
  await db.transaction(async (tx) => {
    for (const app of apps) {
      await tx.query(sql.unsafe`
        INSERT INTO miniapps (client_id, name, scopes, pre_approved_scopes, first_party)
        VALUES (${app.client_id}, ${app.name}, ${sql.array(app.scopes, 'text')}, ${sql.array(app.pre_approved_scopes, 'text')}, ${app.first_party})
        ON CONFLICT (client_id) DO UPDATE
          SET name = EXCLUDED.name, scopes = EXCLUDED.scopes, pre_approved_scopes = EXCLUDED.pre_approved_scopes,
              first_party = EXCLUDED.first_party, updated_at = now()
          WHERE miniapps.source = 'file'`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts (kind, owner, currency) VALUES ('merchant', ${app.client_id}, ${currency})
        ON CONFLICT DO NOTHING`);
    }
  });
}

export function miniappById(db: DatabaseConnection, clientId: string): Promise<Miniapp | null> {
  return db.maybeOne(sql.type(MiniappRow)`
    SELECT client_id, name, scopes, pre_approved_scopes, status, first_party FROM miniapps WHERE client_id = ${clientId}`);
}

const ClientRow = MiniappRow.extend({ secret_hash: z.string().nullable(), backend_of: z.string().nullable(), redirect_uris: z.array(z.string()) });
export type OAuthClient = z.infer<typeof ClientRow>;

/** A client as the token endpoints authenticate it: with the SHA-256 of its secret (null: public). */
export function oauthClientById(db: DatabaseConnection, clientId: string): Promise<OAuthClient | null> {
  return db.maybeOne(sql.type(ClientRow)`
    SELECT client_id, name, scopes, pre_approved_scopes, status, first_party, secret_hash, backend_of, redirect_uris
    FROM miniapps WHERE client_id = ${clientId}`);
}

/** A new webhook secret; the current one keeps signing beside it for `overlapSeconds`. False when the app has no webhook. */
export async function rotateWebhookSecret(db: DatabaseConnection, clientId: string, sealedSecret: string, overlapSeconds: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ client_id: z.string() }))`
    UPDATE miniapps SET sealed_previous_webhook_secret = sealed_webhook_secret,
      previous_webhook_secret_until = now() + ${overlapSeconds} * interval '1 second',
      sealed_webhook_secret = ${sealedSecret}, updated_at = now()
    WHERE client_id = ${clientId} AND webhook_url IS NOT NULL AND sealed_webhook_secret IS NOT NULL
    RETURNING client_id`);
  return row !== null;
}

/** The sealed webhook secrets that may sign for a client now: the current one, and the previous one during its overlap. */
export function webhookSecretsOf(db: DatabaseConnection, clientId: string) {
  return db.maybeOne(sql.type(z.object({ status: z.enum(MINIAPP_STATUSES), current: z.string().nullable(), previous: z.string().nullable() }))`
    SELECT status, sealed_webhook_secret AS current,
      CASE WHEN previous_webhook_secret_until > now() THEN sealed_previous_webhook_secret END AS previous
    FROM miniapps WHERE client_id = ${clientId}`);
}

/** Marks the app and its backend twin deleted and takes away what it held for users: sessions (revoked), approvals and stored values (deleted). */
export async function removeMiniapp(db: DatabaseConnection, clientId: string): Promise<{ sessions: number; values: number; consents: number }> {
  const clients = await db.anyFirst(sql.type(z.object({ client_id: z.string() }))`
    UPDATE miniapps SET status = 'deleted', updated_at = now() WHERE client_id = ${clientId} OR backend_of = ${clientId} RETURNING client_id`);
  const ids = sql.array(clients, 'text');
  const count = sql.type(z.object({ n: z.number() }));
  const sessions = await db.oneFirst(count`
    WITH revoked AS (UPDATE oauth_sessions SET revoked_at = now() WHERE client_id = ANY(${ids}) AND revoked_at IS NULL RETURNING 1) SELECT count(*)::int AS n FROM revoked`);
  const values = await db.oneFirst(count`WITH gone AS (DELETE FROM storage_entries WHERE client_id = ANY(${ids}) RETURNING 1) SELECT count(*)::int AS n FROM gone`);
  const consents = await db.oneFirst(count`WITH gone AS (DELETE FROM consents WHERE client_id = ANY(${ids}) RETURNING 1) SELECT count(*)::int AS n FROM gone`);
  return { sessions, values, consents };
}
