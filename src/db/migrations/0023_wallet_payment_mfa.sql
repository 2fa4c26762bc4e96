-- The wallet owner's payment policy: when set, every mini-app payment asks for a second factor.
ALTER TABLE wallets ADD COLUMN require_payment_mfa boolean NOT NULL DEFAULT false;
