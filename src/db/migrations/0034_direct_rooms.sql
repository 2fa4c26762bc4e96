-- The direct room of each user with the payments bot, where the bot tells them of money that
-- arrived or left without a room of its own (a top-up, a withdrawal).
CREATE TABLE direct_rooms (
  user_id    text        PRIMARY KEY,
  room_id    text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
