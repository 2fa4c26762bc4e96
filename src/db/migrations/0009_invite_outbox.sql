-- Invites of our bots waiting for their acceptInvite saga to start. A homeserver transaction records
-- the invite here in its own database transaction and is answered at once; the saga is started
-- after commit, and the API's sweeper starts any left behind (Temporal down, process stopped).
CREATE TABLE matrix_invite_outbox (
  invite_event_id text        PRIMARY KEY,
  room_id         text        NOT NULL,
  bot_user_id     text        NOT NULL,
  inviter         text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
