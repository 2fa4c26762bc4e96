-- A deleted mini-app keeps its row (payments, refunds and its merchant account refer to it) but
-- never answers again: its sessions are revoked and its users' stored data deleted with it.
ALTER TABLE miniapps DROP CONSTRAINT miniapps_status_check;
ALTER TABLE miniapps ADD CONSTRAINT miniapps_status_check CHECK (status IN ('active', 'suspended', 'deleted'));
