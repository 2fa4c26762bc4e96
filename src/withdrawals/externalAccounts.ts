import type { Clock } from '../clock';
import { sha256Hex } from '../crypto/secrets';
import { externalAccountByKey, externalAccountById, externalAccountsOf, insertExternalAccount, removeExternalAccount, type ExternalAccount, type Owner } from '../db/externalAccounts';
import type { DatabasePool } from '../db/pool';
import { DomainError, invalidField } from '../domain/errors';
import type { Currency } from '../domain/money';
import { refuseOtherRequest, requestHash } from '../idempotency';
import type { Logger } from '../logger';
import { ProviderRefused, ProviderUnavailable, type ExternalAccountType } from '../providers/provider';
import type { ProviderRegistry } from '../providers/registry';

export interface ExternalAccountDeps {
  pool: DatabasePool;
  clock: Clock;
  log: Logger;
  providers: ProviderRegistry;
}

export interface LinkAccount {
  type: ExternalAccountType;
  /** The provider client SDK's token of the account details. */
  token: string;
  currency: Currency;
  idempotencyKey: string;
}

/** PROTO 6.5: what an owner sees of a linked account (never the provider's token). */
export function externalAccountView(a: ExternalAccount) {
  return {
    external_account_id: a.id,
    type: a.account_type,
    label: a.label,
    currency: a.currency,
    provider: a.provider,
    created_at: a.created_at.toISOString(),
    ...(a.removed_at ? { removed_at: a.removed_at.toISOString() } : {}),
  };
}

/** Turns a provider's answer into ours: a refusal is the caller's token, an outage is worth a retry. */
export function providerTrouble(err: unknown, field: string): unknown {
  if (err instanceof ProviderRefused) return invalidField(field, `the provider refused it: ${err.message}`);
  if (err instanceof ProviderUnavailable) return new DomainError('SERVICE_UNAVAILABLE', 'The wallet provider could not be reached; retry the same request', { retry_after_seconds: 5 });
  return err;
}

/**
 * PROTO 6.5 LinkExternalAccount: the provider keeps the account (from its client SDK's token) and
 * we keep its token and a masked label. Idempotent per owner and idempotency_key, at the provider
 * too (its key is derived from ours), so a retried link makes one account.
 */
export async function linkExternalAccount(deps: ExternalAccountDeps, owner: Owner, req: LinkAccount) {
  const hash = requestHash([req.type, req.token, req.currency]);
  const existing = await externalAccountByKey(deps.pool, owner, req.idempotencyKey);
  if (existing) {
    refuseOtherRequest(existing.request_hash, hash, 'external account', { external_account_id: existing.id });
    return { replayed: true, body: externalAccountView(existing) };
  }
  const provider = deps.providers.forCurrency(req.currency);
  let linked;
  try {
    linked = await provider.linkAccount({
      idempotencyKey: `link:${sha256Hex(`${owner.kind}:${owner.id}:${req.idempotencyKey}`)}`,
      type: req.type,
      token: req.token,
      currency: req.currency,
    });
  } catch (err) {
    throw providerTrouble(err, 'token');
  }
  const { account, created } = await insertExternalAccount(deps.pool, {
    id: deps.clock.newId('externalAccount'),
    owner,
    provider: provider.name,
    providerToken: linked.token,
    accountType: linked.type,
    label: linked.label,
    currency: req.currency,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
  });
  if (!created) refuseOtherRequest(account.request_hash, hash, 'external account', { external_account_id: account.id });
  deps.log.info({ external_account_id: account.id, owner_kind: owner.kind, provider: provider.name }, 'external account linked');
  return { replayed: !created, body: externalAccountView(account) };
}

export async function listExternalAccounts(deps: Pick<ExternalAccountDeps, 'pool'>, owner: Owner) {
  return { external_accounts: (await externalAccountsOf(deps.pool, owner)).map(externalAccountView) };
}

/** The owner's linked account, or 404 (another owner's is not found either). */
export async function ownExternalAccount(deps: Pick<ExternalAccountDeps, 'pool'>, owner: Owner, id: string): Promise<ExternalAccount> {
  const a = await externalAccountById(deps.pool, id);
  if (!a || a.owner_kind !== owner.kind || a.owner_id !== owner.id || a.removed_at) {
    throw new DomainError('NOT_FOUND', 'External account not found', { external_account_id: id });
  }
  return a;
}

/** Removes the account here, then at the provider (a provider that cannot be reached is logged; the account is unusable here already). */
export async function unlinkExternalAccount(deps: ExternalAccountDeps, owner: Owner, id: string) {
  const removed = await removeExternalAccount(deps.pool, owner, id);
  if (!removed) throw new DomainError('NOT_FOUND', 'External account not found', { external_account_id: id });
  try {
    await deps.providers.byName(removed.provider)?.unlinkAccount(removed.provider_token);
  } catch (err) {
    deps.log.warn({ err, external_account_id: id, provider: removed.provider }, 'could not remove an external account at its provider; it is removed here');
  }
  return externalAccountView(removed);
}
