-- When the provider first said a payout was paid (its signed callback). Kept under the row's lock,
-- so a give-back that races the callback still flags the withdrawal for operators to reconcile.
ALTER TABLE withdrawals ADD COLUMN provider_paid_at timestamptz;
