-- Money out: withdrawals of wallets and payouts of merchants to an external account, through a
-- wallet provider. While the provider pays, the money waits in a payout account of the withdrawal's
-- own (kind 'payout', like a gift's escrow): it is settled to the provider's clearing account when
-- the provider confirms, or given back when the payout fails or the deadline passes.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('wallet', 'hold', 'merchant', 'escrow', 'funding', 'provider', 'payout'));

-- An external account (PROTO 6.5) of a user or a merchant: only the provider's token and a masked
-- label are kept, never the account number.
CREATE TABLE external_accounts (
  id              text        PRIMARY KEY CHECK (id ~ '^xa_[a-z2-7]{24}$'),
  owner_kind      text        NOT NULL CHECK (owner_kind IN ('user', 'merchant')),
  owner_id        text        NOT NULL,
  provider        text        NOT NULL,
  provider_token  text        NOT NULL,
  account_type    text        NOT NULL CHECK (account_type IN ('bank_account', 'card')),
  label           text        NOT NULL,
  currency        char(3)     NOT NULL REFERENCES currencies (code),
  idempotency_key text        NOT NULL,
  request_hash    text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  removed_at      timestamptz,
  UNIQUE (owner_kind, owner_id, idempotency_key)
);
CREATE INDEX external_accounts_owner_idx ON external_accounts (owner_kind, owner_id) WHERE removed_at IS NULL;

-- One withdrawal: its saga is withdrawal-<id>. `source` is what it draws on: a wallet (owner: the
-- user) or a merchant account (owner: the mini-app's client id).
CREATE TABLE withdrawals (
  id                  text        PRIMARY KEY CHECK (id ~ '^wd_[a-z2-7]{24}$'),
  owner_kind          text        NOT NULL CHECK (owner_kind IN ('user', 'merchant')),
  owner_id            text        NOT NULL,
  wallet_id           text        REFERENCES wallets (id),
  client_id           text,
  external_account_id text        NOT NULL REFERENCES external_accounts (id),
  provider            text        NOT NULL,
  provider_ref        text,
  amount              bigint      NOT NULL CHECK (amount > 0),
  currency            char(3)     NOT NULL REFERENCES currencies (code),
  status              text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'expired')),
  status_reason       text,
  hold_txn_id         text,
  settle_txn_id       text,
  refund_txn_id       text,
  -- The provider reported the payout paid after the money was given back: an operator reconciles it.
  reconcile           text,
  idempotency_key     text        NOT NULL,
  request_hash        text        NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  deadline_at         timestamptz NOT NULL,
  finished_at         timestamptz,
  UNIQUE (owner_kind, owner_id, idempotency_key),
  CHECK ((owner_kind = 'user') = (wallet_id IS NOT NULL))
);
CREATE UNIQUE INDEX withdrawals_provider_ref ON withdrawals (provider, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX withdrawals_owner_idx ON withdrawals (owner_kind, owner_id, created_at DESC);
CREATE INDEX withdrawals_reconcile_idx ON withdrawals (finished_at) WHERE reconcile IS NOT NULL;

-- A withdrawal given back to its wallet gives the wallet's limits back.
CREATE OR REPLACE FUNCTION refund_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['p2p_refund', 'payment_refund', 'gift_refund', 'withdrawal_refund'] $$;
