-- Token buckets of the rate limiter (PROTO 11.4.2), shared by every API process. UNLOGGED: a crash
-- forgets them, which only refills every bucket; nothing about money lives here.
-- `tokens` and the times (epoch seconds) are floating point: buckets refill continuously.
CREATE UNLOGGED TABLE rate_buckets (
  key text PRIMARY KEY,
  capacity double precision NOT NULL,
  -- tokens refilled per second
  rate double precision NOT NULL,
  tokens double precision NOT NULL,
  updated_at double precision NOT NULL,
  -- When the bucket is full again, so the sweeper can forget it (a full bucket is the same as none).
  full_at double precision NOT NULL,
  -- The last take: how many tokens it asked for and how many it got (returned by its statement).
  requested integer NOT NULL,
  granted integer NOT NULL
);
CREATE INDEX rate_buckets_full_at_idx ON rate_buckets (full_at);

-- Callers suspended for repeated rate-limit violations (PROTO 11.4.5): one row per subject (a user
-- through one mini-app, or an address through one client), the latest suspension. Operators list
-- and lift them through the admin API; every API process hears of a change (tmcp_access).
CREATE TABLE rate_suspensions (
  id text PRIMARY KEY,
  subject text NOT NULL UNIQUE,
  user_id text,
  client_id text,
  address text,
  reason text NOT NULL,
  suspended_at timestamptz NOT NULL DEFAULT now(),
  suspended_until timestamptz NOT NULL,
  lifted_at timestamptz
);

CREATE FUNCTION notify_suspension_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tmcp_access', 'suspension:' || NEW.subject);
  RETURN NEW;
END $$;
CREATE TRIGGER rate_suspensions_notify AFTER INSERT OR UPDATE ON rate_suspensions
  FOR EACH ROW EXECUTE FUNCTION notify_suspension_change();
