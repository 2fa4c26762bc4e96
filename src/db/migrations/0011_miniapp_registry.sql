-- The mini-app registry as OAuth clients (PROTO 4.2): how each authenticates, where it may redirect,
-- where its webhooks go. Apps created through the admin API are 'api'; the YAML file keeps its own
-- ('file') and never overwrites an 'api' app. A client secret is kept only as its SHA-256 (it is
-- 256 random bits, so no slow hash is needed); the webhook secret, which signs, is kept sealed.
ALTER TABLE miniapps
  ADD COLUMN client_type           text   NOT NULL DEFAULT 'public' CHECK (client_type IN ('public', 'confidential', 'hybrid')),
  ADD COLUMN redirect_uris         text[] NOT NULL DEFAULT '{}',
  ADD COLUMN secret_hash           text   CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN webhook_url           text,
  ADD COLUMN sealed_webhook_secret text,
  ADD COLUMN backend_of            text   REFERENCES miniapps (client_id),
  ADD COLUMN source                text   NOT NULL DEFAULT 'file' CHECK (source IN ('file', 'api'));

ALTER TABLE miniapps
  ADD CONSTRAINT miniapps_secret_by_type CHECK ((client_type = 'public') = (secret_hash IS NULL)),
  ADD CONSTRAINT miniapps_webhook_secret CHECK ((webhook_url IS NULL) = (sealed_webhook_secret IS NULL)),
  -- A hybrid app's backend twin is the confidential client <client_id>_backend.
  ADD CONSTRAINT miniapps_backend_twin CHECK (backend_of IS NULL OR (client_type = 'confidential' AND client_id = backend_of || '_backend'));
