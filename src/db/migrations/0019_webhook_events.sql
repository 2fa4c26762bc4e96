-- Webhook events for mini-app backends (PROTO 9.1.2) and their delivery log. A row is written in
-- the transaction that causes the event (the outbox rule); its delivery workflow
-- (`webhook-<event_id>`) starts after commit, or from the API's sweeper for rows left behind.
CREATE TABLE webhook_events (
  event_id     text        PRIMARY KEY CHECK (event_id ~ '^evt_[a-z2-7]{24}$'),
  client_id    text        NOT NULL REFERENCES miniapps (client_id),
  event        text        NOT NULL,
  data         jsonb       NOT NULL,
  url          text,       -- where to deliver when not the app's webhook URL (a payment's callback_url)
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts     integer     NOT NULL DEFAULT 0,
  last_status  integer,
  last_error   text,
  finished_at  timestamptz,
  redeliveries integer     NOT NULL DEFAULT 0
);
-- Every attempt, for the merchant's delivery log: when, the answer's status, how long it took, the error.
CREATE TABLE webhook_attempts (
  event_id     text        NOT NULL REFERENCES webhook_events (event_id),
  attempt      integer     NOT NULL CHECK (attempt > 0),
  attempted_at timestamptz NOT NULL,
  http_status  integer,
  duration_ms  integer     NOT NULL,
  error        text,
  PRIMARY KEY (event_id, attempt)
);

CREATE INDEX webhook_events_unstarted_idx ON webhook_events (created_at) WHERE started_at IS NULL;
CREATE INDEX webhook_events_client_idx ON webhook_events (client_id, created_at);
CREATE INDEX webhook_events_payment_idx ON webhook_events ((data ->> 'payment_id')) WHERE data ? 'payment_id';
