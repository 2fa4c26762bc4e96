-- Money in from wallet providers (top-ups). A provider's clearing account stands for the money the
-- provider holds for us: a top-up credits the wallet from it, so it goes below zero as the funding
-- account does (money that entered from outside).
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('wallet', 'hold', 'merchant', 'escrow', 'funding', 'provider'));
ALTER TABLE accounts DROP CONSTRAINT balance_non_negative;
ALTER TABLE accounts ADD CONSTRAINT balance_non_negative CHECK (kind IN ('funding', 'provider') OR balance >= 0);

-- One top-up: its saga is topup-<id>. The provider's reference and checkout are written by the
-- saga's first step; the status by its last.
CREATE TABLE topups (
  id              text        PRIMARY KEY,
  user_id         text        NOT NULL,
  wallet_id       text        NOT NULL REFERENCES wallets (id),
  client_id       text,
  provider        text        NOT NULL,
  provider_ref    text,
  checkout_url    text,
  client_secret   text,
  amount          bigint      NOT NULL CHECK (amount > 0),
  currency        char(3)     NOT NULL REFERENCES currencies (code),
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'expired')),
  status_reason   text,
  room_id         text,
  idempotency_key text        NOT NULL,
  request_hash    text        NOT NULL,
  txn_id          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  UNIQUE (user_id, idempotency_key)
);
CREATE UNIQUE INDEX topups_provider_ref ON topups (provider, provider_ref) WHERE provider_ref IS NOT NULL;

-- Provider callbacks seen, by the provider's event id: a callback repeated is recognised.
CREATE TABLE provider_events (
  provider    text        NOT NULL,
  event_id    text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id)
);
