-- The wallet owner's payment policy: when set, every mini-app payment asks for a second factor.
ALTER TABLE wallets ADD COLUMN require_payment_mfa boolean NOT NULL DEFAULT false;

-- GET balance's function answers the wallet row with the new column (its result type changes, so
-- it is dropped and created again in this migration's transaction).
DROP FUNCTION wallet_balance(text, char(3));
CREATE FUNCTION wallet_balance(p_user_id text, p_currency char(3))
RETURNS TABLE (
  id text, user_id text, currency char(3), status text, verification_level smallint, verified_at timestamptz,
  transaction_limit bigint, daily_limit bigint, monthly_limit bigint, require_p2p_acceptance boolean, require_payment_mfa boolean,
  created_at timestamptz, available bigint, pending bigint, used_day bigint, used_month bigint
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  w    wallets%ROWTYPE;
  cur  char(3);
BEGIN
  SELECT * INTO w FROM wallets WHERE wallets.user_id = p_user_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  cur := coalesce(p_currency, w.currency);
  RETURN QUERY
  SELECT w.id, w.user_id, w.currency, w.status, w.verification_level, w.verified_at, w.transaction_limit, w.daily_limit,
         w.monthly_limit, w.require_p2p_acceptance, w.require_payment_mfa, w.created_at,
         coalesce((SELECT a.balance FROM accounts a WHERE a.kind = 'wallet' AND a.owner = w.id AND a.currency = cur), 0)::int8,
         coalesce((SELECT a.balance FROM accounts a WHERE a.kind = 'hold' AND a.owner = w.id AND a.currency = cur), 0)::int8,
         s.day, s.month
  FROM wallet_spent(w.id, cur) s;
END $$;
