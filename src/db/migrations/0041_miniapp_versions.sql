-- A mini-app's version (PROTO 8.1.4), set by its developer, and the last version its rooms were told
-- of by the updater bot (m.tween.miniapp.updated): an approved change of version is told once.
ALTER TABLE miniapps ADD COLUMN version text NOT NULL DEFAULT '1.0.0' CHECK (version ~ '^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$');
ALTER TABLE miniapps ADD COLUMN announced_version text;
