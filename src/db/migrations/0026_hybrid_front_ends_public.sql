-- PROTO 4.7.2: a hybrid app's front end is a public client. Its secret had to ship in the browser,
-- and it also authenticated merchant calls (refunds, payment reads): it is withdrawn. The app's
-- server side authenticates as its confidential twin <client_id>_backend, whose secret is kept.
ALTER TABLE miniapps DROP CONSTRAINT miniapps_secret_by_type;
UPDATE miniapps SET secret_hash = NULL, updated_at = now() WHERE client_type = 'hybrid' AND secret_hash IS NOT NULL;
ALTER TABLE miniapps ADD CONSTRAINT miniapps_secret_by_type CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL));
