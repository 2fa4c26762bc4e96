-- How many refusals the API has answered for a transfer's actions. It is part of each Workflow Update
-- id: a call repeated after a timeout is the same Update (Temporal answers it with the first call's
-- outcome), while a call repeated after a refusal the client did receive (say, a top-up after
-- INSUFFICIENT_FUNDS) is a new Update and is checked again.
ALTER TABLE p2p_transfers ADD COLUMN failed_calls integer NOT NULL DEFAULT 0;
