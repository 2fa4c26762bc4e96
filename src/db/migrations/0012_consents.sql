-- What each user approved for each mini-app (PROTO 4.3.1 step 3, 5.5): a later token exchange
-- grants these scopes without asking again. One row per user, mini-app and scope.
CREATE TABLE consents (
  user_id    text        NOT NULL,
  client_id  text        NOT NULL REFERENCES miniapps (client_id),
  scope      text        NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id, scope)
);
