-- A provider's "paid" for a payout whose reference the withdrawal has not recorded yet (the callback
-- came before the saga's step that records it): kept here, and applied when the reference is.
CREATE TABLE payout_paid_reports (
  provider     text        NOT NULL,
  provider_ref text        NOT NULL,
  reported_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_ref)
);
