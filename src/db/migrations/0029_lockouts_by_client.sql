-- Lockouts are scoped to who caused them. A failed proof counts against the mini-app it came
-- through (`scope` is its client id; `messenger` for factor changes by the user's own messenger):
-- one app's bad signatures lock that app's use of the factor for that user, not the wallet
-- everywhere. The wallet-wide row (`scope = '*'`) counts failures across apps within a window and
-- locks the factor everywhere only past its own, higher threshold (PROTO 11.4.5).
ALTER TABLE mfa_failures ADD COLUMN scope text NOT NULL DEFAULT '*';
ALTER TABLE mfa_failures ALTER COLUMN scope DROP DEFAULT;
-- Rows from before were counted across apps: they become wallet-wide rows, and a lock they hold
-- still holds until it ends.
ALTER TABLE mfa_failures ADD COLUMN window_started_at timestamptz;
UPDATE mfa_failures SET window_started_at = now();
ALTER TABLE mfa_failures DROP CONSTRAINT mfa_failures_pkey;
ALTER TABLE mfa_failures ADD PRIMARY KEY (user_id, method, scope);
COMMENT ON COLUMN mfa_failures.failures IS
  'per app: attempts since the last correct proof (counted before checking); wallet-wide (*): failures within the window';

-- The mini-app a transfer or gift was made through: the scope its proofs' failures count in.
ALTER TABLE p2p_transfers ADD COLUMN client_id text;
ALTER TABLE gifts ADD COLUMN client_id text;
