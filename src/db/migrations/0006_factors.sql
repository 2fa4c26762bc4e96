-- The user's own messenger is a registered client marked first_party: only it (or a caller holding
-- the user's Matrix session) may enrol payment factors and change wallet settings. A first-party
-- client is not a mini-app, so its id need not start with ma_ (it has no bot in our namespace).
ALTER TABLE miniapps ADD COLUMN first_party boolean NOT NULL DEFAULT false;
ALTER TABLE miniapps DROP CONSTRAINT miniapps_client_id_check;
ALTER TABLE miniapps ADD CONSTRAINT miniapps_client_id_check
  CHECK (client_id ~ '^ma_[a-z0-9_]{1,64}$' OR (first_party AND client_id ~ '^[a-z][a-z0-9_]{2,64}$'));

-- TOTP secrets are kept sealed (AES-256-GCM under DATA_ENCRYPTION_KEY, bound to the user). Rows an
-- earlier version stored in plaintext are sealed by the api and worker at start (they hold the key).
ALTER TABLE user_totp ADD COLUMN sealed_secret text;
ALTER TABLE user_totp ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE user_totp ADD CONSTRAINT user_totp_one_secret CHECK (num_nonnulls(secret, sealed_secret) = 1);

-- mfa_failures.failures now counts attempts since the last correct proof, each counted before it is
-- checked; it no longer starts over when a lock is set, so each lock is longer than the one before.
COMMENT ON COLUMN mfa_failures.failures IS 'attempts since the last correct proof (counted before checking)';
