-- The status event (accept, reject, expiry) keeps its own error, so a refused transfer event is not
-- erased when a later status event goes through.
ALTER TABLE p2p_transfers ADD COLUMN status_event_error text;
