-- Housekeeping (the outbox sweeps and purges) runs in one API process across all replicas: the one
-- holding an advisory lock. Operators see each job's last round here and pause or resume it.
CREATE TABLE housekeeping_jobs (
  job         text        PRIMARY KEY,
  paused      boolean     NOT NULL DEFAULT false,
  last_run_at timestamptz,
  last_swept  integer,
  last_error  text,
  runner      text
);

-- The sweep queries that read without an index until now.
CREATE INDEX gifts_unfinished_expiry_idx ON gifts (expires_at) WHERE status IN ('pending', 'active');
CREATE INDEX payment_refunds_unannounced_idx ON payment_refunds (created_at) WHERE event_id IS NULL AND event_error IS NULL;
CREATE INDEX wallet_callback_events_unsent_idx ON wallet_callback_events (created_at) WHERE event_id IS NULL AND event_error IS NULL;
