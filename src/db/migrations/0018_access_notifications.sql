-- Revocations and suspensions are announced on the `tmcp_access` channel when they commit, so every
-- API process forgets what it cached about the session or client at once (src/db/accessChanges.ts).
-- Triggers rather than NOTIFYs beside each statement: no path that revokes can forget to announce it.
CREATE FUNCTION notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.revoked_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.revoked_at IS NULL) THEN
    PERFORM pg_notify('tmcp_access', 'session:' || NEW.id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER oauth_sessions_revoked AFTER INSERT OR UPDATE OF revoked_at ON oauth_sessions
  FOR EACH ROW EXECUTE FUNCTION notify_session_revoked();

CREATE FUNCTION notify_client_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('tmcp_access', 'client:' || NEW.client_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER miniapps_status_changed AFTER UPDATE OF status ON miniapps
  FOR EACH ROW EXECUTE FUNCTION notify_client_status();
