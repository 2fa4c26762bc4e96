-- Authorization codes (RFC 6749 4.1, PKCE RFC 7636), kept as their SHA-256 only. A code is
-- redeemed once: `session_id` names the session it gave, which a second redemption revokes.
CREATE TABLE authorization_codes (
  code_hash      text        PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  client_id      text        NOT NULL REFERENCES miniapps (client_id),
  user_id        text        NOT NULL,
  wallet_id      text        NOT NULL,
  scopes         text[]      NOT NULL,
  redirect_uri   text        NOT NULL,
  code_challenge text        NOT NULL CHECK (code_challenge ~ '^[A-Za-z0-9_-]{43}$'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  redeemed_at    timestamptz,
  session_id     text        REFERENCES oauth_sessions (id)
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
