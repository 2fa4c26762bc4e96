-- Webhook secret rotation: the previous secret keeps signing beside the new one until
-- `previous_webhook_secret_until`, so a backend can switch to the new secret without missing events.
ALTER TABLE miniapps ADD COLUMN sealed_previous_webhook_secret text;
ALTER TABLE miniapps ADD COLUMN previous_webhook_secret_until timestamptz;
