import { sql } from 'slonik';
import { z } from 'zod';
import type { Currency } from '../domain/money';
import type { WithdrawalOwnerKind } from '../domain/withdrawals';
import type { DatabaseConnection } from './pool';

export const ExternalAccountRow = z.object({
  id: z.string(),
  owner_kind: z.enum(['user', 'merchant']),
  owner_id: z.string(),
  provider: z.string(),
  provider_token: z.string(),
  account_type: z.enum(['bank_account', 'card']),
  label: z.string(),
  currency: z.string().transform((c) => c.trim() as Currency),
  idempotency_key: z.string(),
  request_hash: z.string(),
  created_at: z.date(),
  removed_at: z.date().nullable(),
});
export type ExternalAccount = z.infer<typeof ExternalAccountRow>;

export interface Owner {
  kind: WithdrawalOwnerKind;
  id: string;
}

export interface NewExternalAccount {
  id: string;
  owner: Owner;
  provider: string;
  providerToken: string;
  accountType: 'bank_account' | 'card';
  label: string;
  currency: Currency;
  idempotencyKey: string;
  requestHash: string;
}

/** Inserts the linked account, or answers the one stored under the same owner and idempotency key. */
export async function insertExternalAccount(db: DatabaseConnection, a: NewExternalAccount): Promise<{ account: ExternalAccount; created: boolean }> {
  const inserted = await db.maybeOne(sql.type(ExternalAccountRow)`
    INSERT INTO external_accounts (id, owner_kind, owner_id, provider, provider_token, account_type, label, currency, idempotency_key, request_hash)
    VALUES (${a.id}, ${a.owner.kind}, ${a.owner.id}, ${a.provider}, ${a.providerToken}, ${a.accountType}, ${a.label}, ${a.currency},
            ${a.idempotencyKey}, ${a.requestHash})
    ON CONFLICT (owner_kind, owner_id, idempotency_key) DO NOTHING
    RETURNING *`);
  if (inserted) return { account: inserted, created: true };
  return { account: (await externalAccountByKey(db, a.owner, a.idempotencyKey))!, created: false };
}

export function externalAccountByKey(db: DatabaseConnection, owner: Owner, key: string): Promise<ExternalAccount | null> {
  return db.maybeOne(sql.type(ExternalAccountRow)`
    SELECT * FROM external_accounts WHERE owner_kind = ${owner.kind} AND owner_id = ${owner.id} AND idempotency_key = ${key}`);
}

export function externalAccountById(db: DatabaseConnection, id: string): Promise<ExternalAccount | null> {
  return db.maybeOne(sql.type(ExternalAccountRow)`SELECT * FROM external_accounts WHERE id = ${id}`);
}

export function externalAccountsOf(db: DatabaseConnection, owner: Owner): Promise<readonly ExternalAccount[]> {
  return db.any(sql.type(ExternalAccountRow)`
    SELECT * FROM external_accounts WHERE owner_kind = ${owner.kind} AND owner_id = ${owner.id} AND removed_at IS NULL
    ORDER BY created_at, id`);
}

/** Marks the account removed (withdrawals that named it keep their reference); false when it was not there. */
export async function removeExternalAccount(db: DatabaseConnection, owner: Owner, id: string): Promise<ExternalAccount | null> {
  return db.maybeOne(sql.type(ExternalAccountRow)`
    UPDATE external_accounts SET removed_at = now()
    WHERE id = ${id} AND owner_kind = ${owner.kind} AND owner_id = ${owner.id} AND removed_at IS NULL
    RETURNING *`);
}
