-- Proofs a user can give to authorize a payment (PROTO 7.2.1, PROTO-mfa-v1.2 7.4).

-- Device keys for biometric proofs: the device signs with a hardware-bound private key.
CREATE TABLE devices (
  user_id                text        NOT NULL,
  device_id              text        NOT NULL CHECK (length(device_id) BETWEEN 1 AND 128),
  device_name            text        CHECK (length(device_name) <= 200),
  platform               text        CHECK (length(platform) <= 40),
  algorithm              text        NOT NULL CHECK (algorithm IN ('ECDSA_P256', 'RSA')),
  public_key             bytea       NOT NULL,  -- SubjectPublicKeyInfo, DER
  public_key_hash        text        NOT NULL,
  biometric_capabilities text[]      NOT NULL DEFAULT '{}',
  status                 text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  registered_at          timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, device_id)
);

-- A slow salted hash (scrypt) of the SHA-256 of the PIN the client sends; the PIN itself is never stored.
CREATE TABLE user_pins (
  user_id    text        PRIMARY KEY,
  salt       bytea       NOT NULL,
  hash       bytea       NOT NULL,
  params     text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- TOTP (RFC 6238); last_time_step makes each code usable once.
CREATE TABLE user_totp (
  user_id        text        PRIMARY KEY,
  secret         text        NOT NULL,
  last_time_step bigint,
  enrolled_at    timestamptz NOT NULL DEFAULT now()
);

-- Consecutive failed proofs per user and method, across transfers.
CREATE TABLE mfa_failures (
  user_id      text        NOT NULL,
  method       text        NOT NULL,
  failures     integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
  locked_until timestamptz,
  PRIMARY KEY (user_id, method)
);

-- Proofs already accepted (signed messages, TOTP time steps): each is good once. `consumer` names
-- the confirmation attempt that used it, so a retried verification of that same attempt passes.
CREATE TABLE used_proofs (
  proof_hash text        PRIMARY KEY,
  user_id    text        NOT NULL,
  consumer   text        NOT NULL,
  used_at    timestamptz NOT NULL DEFAULT now()
);
