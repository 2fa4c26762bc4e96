ALTER TABLE wallets ADD COLUMN require_p2p_acceptance boolean NOT NULL DEFAULT false;

-- One row per P2P transfer, kept in step with its saga so the API and the history read it
-- without asking Temporal.
CREATE TABLE p2p_transfers (
  id                            text        PRIMARY KEY CHECK (id ~ '^p2p_[a-z2-7]{24}$'),
  sender_user_id                text        NOT NULL,
  sender_wallet_id              text        NOT NULL REFERENCES wallets (id),
  recipient_user_id             text        NOT NULL,
  recipient_wallet_id           text        NOT NULL REFERENCES wallets (id),
  amount                        bigint      NOT NULL CHECK (amount > 0),
  currency                      char(3)     NOT NULL REFERENCES currencies (code),
  note                          text        CHECK (length(note) <= 280),
  room_id                       text,
  status                        text        NOT NULL CHECK (status IN (
                                  'pending_authorization', 'pending_recipient_acceptance', 'completed',
                                  'rejected', 'expired', 'cancelled', 'auth_failed')),
  status_reason                 text,
  recipient_acceptance_required boolean     NOT NULL,
  idempotency_key               text        NOT NULL,
  request_hash                  text        NOT NULL,
  initiate_response             json        NOT NULL,  -- json, not jsonb: replays answer byte for byte, keys in order
  auth_method                   text,
  auth_attempts                 integer     NOT NULL DEFAULT 0,
  event_id                      text,
  status_event_id               text,
  event_error                   text,
  authorization_expires_at      timestamptz NOT NULL,
  acceptance_expires_at         timestamptz,
  created_at                    timestamptz NOT NULL DEFAULT now(),
  updated_at                    timestamptz NOT NULL DEFAULT now(),
  confirmed_at                  timestamptz,
  completed_at                  timestamptz,
  rejected_at                   timestamptz,
  expired_at                    timestamptz,
  cancelled_at                  timestamptz,
  -- Keys are kept (not only the 24 hours PROTO 7.2.3 asks for): a retried request always meets its answer.
  UNIQUE (sender_user_id, idempotency_key),
  CHECK (sender_wallet_id <> recipient_wallet_id)
);
CREATE INDEX p2p_transfers_recipient_idx ON p2p_transfers (recipient_user_id, created_at DESC);
CREATE INDEX p2p_transfers_sender_idx ON p2p_transfers (sender_user_id, created_at DESC);
