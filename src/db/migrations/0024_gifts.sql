-- Group gifts (PROTO 7.5): the gift, kept in step with its workflow (`gift-<id>`), and one row per
-- opening. The database itself refuses a second opening by the same user (primary key) and, with
-- the gift's row locked, an opening beyond the count (PROTO 7.5.6), whatever the workflow does.
-- The money waits in an escrow account of the gift's own.
CREATE TABLE gifts (
  id                text        PRIMARY KEY CHECK (id ~ '^gift_[a-z2-7]{24}$'),
  type              text        NOT NULL CHECK (type IN ('individual', 'group')),
  sender_user_id    text        NOT NULL,
  sender_wallet_id  text        NOT NULL REFERENCES wallets (id),
  recipient_user_id text,
  room_id           text        NOT NULL,
  currency          char(3)     NOT NULL REFERENCES currencies (code),
  total_amount      bigint      NOT NULL CHECK (total_amount > 0),
  count             integer     NOT NULL CHECK (count > 0),
  distribution      text        NOT NULL CHECK (distribution IN ('equal', 'random')),
  message           text        CHECK (length(message) <= 280),
  status            text        NOT NULL CHECK (status IN ('pending', 'active', 'fully_opened', 'expired', 'failed')),
  status_reason     text,
  remaining_count   integer     NOT NULL CHECK (remaining_count >= 0 AND remaining_count <= count),
  remaining_amount  bigint      NOT NULL CHECK (remaining_amount >= 0 AND remaining_amount <= total_amount),
  refunded_amount   bigint      NOT NULL DEFAULT 0,
  idempotency_key   text        NOT NULL,
  request_hash      text        NOT NULL,
  response          json,
  event_id          text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  finished_at       timestamptz,
  UNIQUE (sender_user_id, idempotency_key),
  CHECK ((type = 'individual') = (recipient_user_id IS NOT NULL))
);
CREATE INDEX gifts_room_idx ON gifts (room_id, created_at DESC);

CREATE TABLE gift_openings (
  gift_id    text        NOT NULL REFERENCES gifts (id),
  user_id    text        NOT NULL,
  wallet_id  text        NOT NULL REFERENCES wallets (id),
  amount     bigint      NOT NULL CHECK (amount > 0),
  rank       integer     NOT NULL CHECK (rank > 0),
  txn_id     text        NOT NULL,
  opened_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gift_id, user_id),
  UNIQUE (gift_id, rank)
);

-- A gift's unopened money that goes back to its sender gives the sender's limits back.
CREATE OR REPLACE FUNCTION refund_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['p2p_refund', 'payment_refund', 'gift_refund'] $$;
