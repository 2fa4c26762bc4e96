-- Developer accounts (PROTO 4.4): Matrix users an operator enrolled (the whitelist), their tokens
-- (kept as SHA-256 hashes only), and the mini-apps each registered, with their review trail
-- (PROTO 9.2-9.3: pending_review -> active (approved) | rejected; suspended; appeal).
CREATE TABLE developers (
  user_id     text        PRIMARY KEY,
  status      text        NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE developer_tokens (
  token_hash  text        PRIMARY KEY,
  user_id     text        NOT NULL REFERENCES developers (user_id),
  kind        text        NOT NULL CHECK (kind IN ('access', 'refresh')),
  -- The access and refresh token issued together: revoking one revokes both.
  grant_id    text        NOT NULL,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX developer_tokens_user ON developer_tokens (user_id);
CREATE INDEX developer_tokens_grant ON developer_tokens (grant_id);

ALTER TABLE miniapps DROP CONSTRAINT miniapps_status_check;
ALTER TABLE miniapps ADD CONSTRAINT miniapps_status_check
  CHECK (status IN ('pending_review', 'active', 'rejected', 'appeal', 'suspended', 'deleted'));
ALTER TABLE miniapps ADD COLUMN developer_id text REFERENCES developers (user_id);
ALTER TABLE miniapps ADD COLUMN description text;
CREATE INDEX miniapps_developer ON miniapps (developer_id) WHERE developer_id IS NOT NULL;

CREATE TABLE miniapp_reviews (
  id          bigserial   PRIMARY KEY,
  client_id   text        NOT NULL REFERENCES miniapps (client_id),
  action      text        NOT NULL CHECK (action IN ('submitted', 'updated', 'approved', 'rejected', 'appealed')),
  actor       text        NOT NULL,
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX miniapp_reviews_client ON miniapp_reviews (client_id, id);
