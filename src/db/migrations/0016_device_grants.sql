-- Device Authorization Grants (RFC 8628): how the two codes find the grant's workflow
-- (`device-<id>`), which owns its state, expiry and polling rules. The device code is kept as its
-- SHA-256 only. A user code is unique among grants; an expired grant's code may be given again.
CREATE TABLE device_grants (
  id               text        PRIMARY KEY CHECK (id ~ '^dgr_[a-z2-7]{24}$'),
  client_id        text        NOT NULL REFERENCES miniapps (client_id),
  scopes           text[]      NOT NULL,
  user_code        text        NOT NULL UNIQUE CHECK (user_code ~ '^[BCDFGHJKLMNPQRSTVWXZ]{8}$'),
  device_code_hash text        NOT NULL UNIQUE CHECK (device_code_hash ~ '^[0-9a-f]{64}$'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL
);

-- User-code lookups per client address and minute, counted before each lookup and given back when
-- the code was right, so what remains are wrong codes (RFC 8628 5.1: the code space is small).
CREATE TABLE user_code_lookups (
  address    text        NOT NULL,
  minute     timestamptz NOT NULL,
  lookups    integer     NOT NULL,
  PRIMARY KEY (address, minute)
);
