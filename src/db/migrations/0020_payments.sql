-- Mini-app payments (PROTO 7.3): one row per payment, kept in step with its workflow
-- (`payment-<id>`) so the API, the merchant's backend and the history read it without Temporal.
CREATE TABLE payments (
  id                  text        PRIMARY KEY CHECK (id ~ '^pay_[a-z2-7]{24}$'),
  payer_user_id       text        NOT NULL,
  payer_wallet_id     text        NOT NULL REFERENCES wallets (id),
  client_id           text        NOT NULL REFERENCES miniapps (client_id),
  amount              bigint      NOT NULL CHECK (amount > 0),
  currency            char(3)     NOT NULL REFERENCES currencies (code),
  description         text        NOT NULL CHECK (length(description) <= 500),
  merchant_order_id   text        CHECK (length(merchant_order_id) <= 128),
  items               jsonb,
  callback_url        text,
  room_id             text,
  status              text        NOT NULL CHECK (status IN ('pending_authorization', 'mfa_required', 'processing', 'completed',
                                                        'failed', 'expired', 'partially_refunded', 'refunded')),
  status_reason       text,
  idempotency_key     text        NOT NULL,
  request_hash        text        NOT NULL,
  request_response    json        NOT NULL,  -- json, not jsonb: replays answer byte for byte
  auth_method         text,
  failed_calls        integer     NOT NULL DEFAULT 0,  -- refusals answered so far: part of each Update's id
  txn_id              text,
  refunded_amount     bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
  event_id            text,
  event_error         text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  expires_at          timestamptz NOT NULL,
  authorized_at       timestamptz,
  completed_at        timestamptz,
  failed_at           timestamptz,
  expired_at          timestamptz,
  UNIQUE (client_id, payer_user_id, idempotency_key)
);
CREATE INDEX payments_payer_idx ON payments (payer_user_id, created_at DESC);
CREATE INDEX payments_pending_idx ON payments (expires_at) WHERE status IN ('pending_authorization', 'mfa_required');

-- Refunds (PROTO 7.4): each one journal entry merchant to payer, written with the refund row and the
-- payment's new refunded amount in one transaction that holds the payment's row, so concurrent
-- refunds never pass the captured amount. Idempotent per payment and key.
CREATE TABLE payment_refunds (
  id              text        PRIMARY KEY CHECK (id ~ '^ref_[a-z2-7]{24}$'),
  payment_id      text        NOT NULL REFERENCES payments (id),
  amount          bigint      NOT NULL CHECK (amount > 0),
  reason          text        CHECK (length(reason) <= 200),
  requested_by    text        NOT NULL,
  idempotency_key text        NOT NULL,
  request_hash    text        NOT NULL,
  txn_id          text        NOT NULL,
  response        json        NOT NULL,
  event_id        text,
  event_error     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, idempotency_key)
);

-- A refunded payment gives the payer's limits back, as a refunded transfer does.
CREATE OR REPLACE FUNCTION refund_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['p2p_refund', 'payment_refund'] $$;
