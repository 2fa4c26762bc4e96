-- History pages and their totals from postings alone: each posting carries its transaction's id
-- (the one its journal entry has: an entry and its postings are written in one transaction), and
-- the account's index carries it with the amount, so a page's rows and the count are read from the
-- index, and only the page's own entries are looked up. Reading the entry of every posting to check
-- its snapshot cost ~2.6 µs per entry of the account's history on every page.
--
-- Rows written before this migration keep NULL: they were committed before it (ALTER TABLE waits
-- for every writer), so every snapshot taken since sees them. Adding the column without a default
-- and setting the default afterwards rewrites nothing.
ALTER TABLE postings ADD COLUMN xid xid8;
ALTER TABLE postings ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX postings_account_history_idx ON postings (account_id, entry_id DESC) INCLUDE (xid, currency, amount);
DROP INDEX postings_account_idx;
