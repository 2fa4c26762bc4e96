-- Money that left each wallet account per UTC day, kept by the database together with the postings
-- (as balances are), so a limit check reads at most a month of rows however old the wallet is.
CREATE TABLE wallet_usage (
  account_id bigint NOT NULL REFERENCES accounts (id),
  day        date   NOT NULL,
  outflow    bigint NOT NULL CHECK (outflow >= 0),
  PRIMARY KEY (account_id, day)
);

-- Entry kinds that give money back to the wallet it left. A new refund kind is added here.
CREATE FUNCTION refund_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['p2p_refund'] $$;

-- A debit of a wallet account counts on the UTC day of its entry. A refund (an entry of a refund
-- kind giving money back for the same business object, e.g. a rejected transfer) takes it off the
-- day the money left, so refunded money does not count against the limits.
CREATE FUNCTION count_wallet_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  entry     journal_entries%ROWTYPE;
  spent_on  date;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id AND kind = 'wallet') THEN
    RETURN NEW;
  END IF;
  SELECT * INTO entry FROM journal_entries WHERE id = NEW.entry_id;
  IF NEW.amount < 0 THEN
    INSERT INTO wallet_usage AS u (account_id, day, outflow)
    VALUES (NEW.account_id, (entry.created_at AT TIME ZONE 'UTC')::date, -NEW.amount)
    ON CONFLICT (account_id, day) DO UPDATE SET outflow = u.outflow + EXCLUDED.outflow;
  ELSIF entry.kind = ANY (refund_kinds()) AND entry.reference IS NOT NULL THEN
    SELECT (e.created_at AT TIME ZONE 'UTC')::date INTO spent_on
    FROM journal_entries e JOIN postings p ON p.entry_id = e.id
    WHERE e.reference = entry.reference AND p.account_id = NEW.account_id AND p.amount < 0
    ORDER BY e.id LIMIT 1;
    UPDATE wallet_usage SET outflow = greatest(outflow - NEW.amount, 0)
    WHERE account_id = NEW.account_id AND day = spent_on;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER postings_count_wallet_usage AFTER INSERT ON postings
  FOR EACH ROW EXECUTE FUNCTION count_wallet_usage();

-- The usage of every movement so far.
INSERT INTO wallet_usage (account_id, day, outflow)
SELECT p.account_id, (e.created_at AT TIME ZONE 'UTC')::date, sum(-p.amount)
FROM postings p
JOIN accounts a ON a.id = p.account_id AND a.kind = 'wallet'
JOIN journal_entries e ON e.id = p.entry_id
WHERE p.amount < 0
GROUP BY 1, 2;

UPDATE wallet_usage u SET outflow = greatest(u.outflow - r.refunded, 0)
FROM (
  SELECT p.account_id, (spent.created_at AT TIME ZONE 'UTC')::date AS day, sum(p.amount) AS refunded
  FROM postings p
  JOIN journal_entries e ON e.id = p.entry_id AND e.kind = ANY (refund_kinds())
  JOIN LATERAL (
    SELECT e2.created_at FROM journal_entries e2 JOIN postings p2 ON p2.entry_id = e2.id
    WHERE e2.reference = e.reference AND p2.account_id = p.account_id AND p2.amount < 0
    ORDER BY e2.id LIMIT 1
  ) spent ON true
  WHERE p.amount > 0
  GROUP BY 1, 2
) r
WHERE u.account_id = r.account_id AND u.day = r.day;

-- Transfers waiting for authorization: counted per sender at initiate (a cap on how many may wait),
-- and found by the sweeper once their window has passed (a saga that never started).
CREATE INDEX p2p_transfers_pending_sender_idx ON p2p_transfers (sender_user_id) WHERE status = 'pending_authorization';
CREATE INDEX p2p_transfers_pending_expiry_idx ON p2p_transfers (authorization_expires_at) WHERE status = 'pending_authorization';
