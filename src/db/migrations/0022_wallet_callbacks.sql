-- Payment events reported by third-party wallet providers (PROTO 4.11.7-4.11.8): one per provider
-- and transaction_id, whatever the provider repeats (one provider's ids never meet another's). Kept, not only for PROTO's 24 hours: a late repeat
-- still meets its first answer.
CREATE TABLE wallet_callback_events (
  transaction_id text        NOT NULL CHECK (length(transaction_id) BETWEEN 1 AND 128),
  provider       text        NOT NULL REFERENCES miniapps (client_id),
  event          text        NOT NULL,
  room_id        text        NOT NULL,
  room_event     jsonb       NOT NULL,   -- {type, content}: what the room is told (the sweeper resends it)
  event_id       text,
  event_error    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, transaction_id)
);
