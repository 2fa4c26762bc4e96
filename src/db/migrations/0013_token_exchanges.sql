-- PROTO 4.9.3: a Matrix access token is exchanged for a TEP once per mini-app within the
-- introspection cache window. Only the token's SHA-256 is kept.
CREATE TABLE token_exchanges (
  subject_hash text        NOT NULL CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
  client_id    text        NOT NULL REFERENCES miniapps (client_id),
  exchanged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject_hash, client_id)
);
