-- A TEP minted outside a grant (npm run token) has a session this server never recorded; revoking
-- such a token records its session as revoked, and it may carry no wallet.
ALTER TABLE oauth_sessions ALTER COLUMN wallet_id DROP NOT NULL;
