-- Mini-app storage (PROTO 10.3): per mini-app and user, values encrypted (key id beside each),
-- a version per value for conditional writes, an optional expiry. Usage per namespace is counted
-- under the namespace's lock row, so racing writes cannot pass a quota.
CREATE TABLE storage_entries (
  client_id        text        NOT NULL REFERENCES miniapps (client_id),
  user_id          text        NOT NULL,
  key              text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 1024),
  key_id           text        NOT NULL,
  ciphertext       bytea       NOT NULL,
  size_bytes       integer     NOT NULL CHECK (size_bytes >= 0),
  content_type     text        CHECK (length(content_type) <= 128),
  version          bigint      NOT NULL,
  client_timestamp bigint,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz,
  PRIMARY KEY (client_id, user_id, key)
);
CREATE INDEX storage_entries_expiry_idx ON storage_entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX storage_entries_key_id_idx ON storage_entries (key_id);

-- One row per namespace: what writes lock (SELECT ... FOR UPDATE) before counting and writing.
CREATE TABLE storage_namespaces (
  client_id  text NOT NULL REFERENCES miniapps (client_id),
  user_id    text NOT NULL,
  PRIMARY KEY (client_id, user_id)
);
