-- A device grant's approval and its redemption are kept with the grant. The workflow still decides
-- the polling rules and the expiry; PostgreSQL decides "exactly once": the redemption is written in
-- the transaction that records the session, so a failure between the two leaves the approval
-- redeemable by the next poll instead of lost.
ALTER TABLE device_grants ADD COLUMN approved_user_id text;
ALTER TABLE device_grants ADD COLUMN approved_wallet_id text;
ALTER TABLE device_grants ADD COLUMN redeemed_at timestamptz;
CREATE INDEX device_grants_expires_idx ON device_grants (expires_at);
