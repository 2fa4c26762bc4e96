-- OAuth sessions (PROTO 4.14, 5.6): what one grant gave one mini-app for one user. The TEPs of a
-- session carry its id (`session_id`); revoking the session stops them and its refresh tokens.
CREATE TABLE oauth_sessions (
  id         text        PRIMARY KEY CHECK (id ~ '^ses_[a-z2-7]{24}$'),
  user_id    text        NOT NULL,
  client_id  text        NOT NULL REFERENCES miniapps (client_id),
  scopes     text[]      NOT NULL,
  wallet_id  text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX oauth_sessions_user_client_idx ON oauth_sessions (user_id, client_id);

-- Refresh tokens, kept as their SHA-256 only. Each use marks the token used and issues the next
-- one of the same session; a used token presented again revokes the session (token family).
CREATE TABLE refresh_tokens (
  token_hash text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  session_id text        NOT NULL REFERENCES oauth_sessions (id),
  issued_at  timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
