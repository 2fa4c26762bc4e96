-- Hot reads as PL/pgSQL functions: PL/pgSQL keeps the plans of its statements for the session, so a
-- call costs one trivial plan instead of planning a multi-table query on every request (measured on
-- GET balance: about 0.35 ms of PostgreSQL time per call instead of 1.0 ms).

-- Money that left the wallet account today and this month (UTC), refunds taken off (wallet_usage).
CREATE FUNCTION wallet_spent(p_wallet_id text, p_currency char(3), OUT day bigint, OUT month bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  SELECT coalesce(sum(u.outflow) FILTER (WHERE u.day = (now() AT TIME ZONE 'UTC')::date), 0)::int8,
         coalesce(sum(u.outflow), 0)::int8
  INTO day, month
  FROM accounts a
  JOIN wallet_usage u ON u.account_id = a.id AND u.day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date
  WHERE a.kind = 'wallet' AND a.owner = p_wallet_id AND a.currency = p_currency;
END $$;

-- The user's wallet with its balances and usage in p_currency (the wallet's own when null): GET balance.
CREATE FUNCTION wallet_balance(p_user_id text, p_currency char(3))
RETURNS TABLE (
  id text, user_id text, currency char(3), status text, verification_level smallint, verified_at timestamptz,
  transaction_limit bigint, daily_limit bigint, monthly_limit bigint, require_p2p_acceptance boolean, created_at timestamptz,
  available bigint, pending bigint, used_day bigint, used_month bigint
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
         w.monthly_limit, w.require_p2p_acceptance, w.created_at,
         coalesce((SELECT a.balance FROM accounts a WHERE a.kind = 'wallet' AND a.owner = w.id AND a.currency = cur), 0)::int8,
         coalesce((SELECT a.balance FROM accounts a WHERE a.kind = 'hold' AND a.owner = w.id AND a.currency = cur), 0)::int8,
         s.day, s.month
  FROM wallet_spent(w.id, cur) s;
END $$;
