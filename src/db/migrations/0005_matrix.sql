-- Application Service transactions already applied. Synapse retries a transaction until it gets a
-- 200; the id is recorded in the same database transaction as the effects of its events. The key
-- includes a digest of the transaction's event ids: Synapse on SQLite numbers transactions again
-- from the highest one it still holds after a restart, so an id can come back with new events.
CREATE TABLE appservice_transactions (
  txn_id        text        NOT NULL CHECK (length(txn_id) BETWEEN 1 AND 255),
  events_digest text        NOT NULL,
  event_count   integer     NOT NULL CHECK (event_count >= 0),
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (txn_id, events_digest)
);

-- Rooms the server has seen. members_synced_at: when the member list was read from the homeserver;
-- from then on transactions keep it current (until none of our bots is in the room any more).
CREATE TABLE matrix_rooms (
  room_id           text        PRIMARY KEY,
  members_synced_at timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_members (
  room_id    text        NOT NULL REFERENCES matrix_rooms (room_id),
  user_id    text        NOT NULL,
  membership text        NOT NULL CHECK (membership IN ('join', 'invite', 'leave', 'ban', 'knock')),
  -- The m.room.member event that set it; null when read from a member list.
  event_id   text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_joined_idx ON room_members (user_id, room_id) WHERE membership = 'join';

-- m.tween.* events seen in rooms, each once, with what its handler made of it.
CREATE TABLE matrix_tween_events (
  event_id         text        PRIMARY KEY,
  txn_id           text        NOT NULL,
  room_id          text        NOT NULL,
  type             text        NOT NULL,
  sender           text        NOT NULL,
  content          jsonb       NOT NULL,
  origin_server_ts bigint,
  outcome          text        NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX matrix_tween_events_room_idx ON matrix_tween_events (room_id, received_at);
