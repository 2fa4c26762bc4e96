-- Currencies the ledger accepts, with the ISO 4217 minor-unit exponent (src/domain/money.ts holds the same list).
CREATE TABLE currencies (
  code      char(3)  PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
  exponent  smallint NOT NULL CHECK (exponent BETWEEN 0 AND 4),
  name      text     NOT NULL
);
INSERT INTO currencies (code, exponent, name) VALUES
  ('USD', 2, 'US Dollar'), ('EUR', 2, 'Euro'), ('GBP', 2, 'Pound Sterling'), ('NGN', 2, 'Naira'),
  ('KES', 2, 'Kenyan Shilling'), ('GHS', 2, 'Ghana Cedi'), ('ZAR', 2, 'Rand'), ('JPY', 0, 'Yen');

CREATE TABLE wallets (
  id                 text        PRIMARY KEY CHECK (id ~ '^tw_[a-z2-7]{24}$'),
  user_id            text        NOT NULL UNIQUE CHECK (user_id ~ '^@[^:]+:.+$'),
  currency           char(3)     NOT NULL REFERENCES currencies (code),
  status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  verification_level smallint    NOT NULL DEFAULT 1 CHECK (verification_level BETWEEN 0 AND 3),
  verified_at        timestamptz,
  transaction_limit  bigint      NOT NULL CHECK (transaction_limit >= 0),
  daily_limit        bigint      NOT NULL CHECK (daily_limit >= 0),
  monthly_limit      bigint      NOT NULL CHECK (monthly_limit >= 0),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One account per (kind, owner, currency). Wallet and hold accounts belong to a wallet.
CREATE TABLE accounts (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind       text        NOT NULL CHECK (kind IN ('wallet', 'hold', 'merchant', 'escrow', 'funding')),
  owner      text        NOT NULL,
  wallet_id  text        REFERENCES wallets (id),
  currency   char(3)     NOT NULL REFERENCES currencies (code),
  balance    bigint      NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, owner, currency),
  CONSTRAINT wallet_owned CHECK ((kind IN ('wallet', 'hold')) = (wallet_id IS NOT NULL AND wallet_id = owner)),
  -- Only the system funding account may go below zero: it stands for money that entered from outside.
  CONSTRAINT balance_non_negative CHECK (kind = 'funding' OR balance >= 0)
);

CREATE TABLE journal_entries (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txn_id          text        NOT NULL UNIQUE,
  idempotency_key text        NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  kind            text        NOT NULL,
  reference       text,
  metadata        jsonb       NOT NULL DEFAULT '{}',
  -- The writing transaction, so history pages can be read from one stable snapshot (pg_visible_in_snapshot).
  xid             xid8        NOT NULL DEFAULT pg_current_xact_id(),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_reference_idx ON journal_entries (reference) WHERE reference IS NOT NULL;

CREATE TABLE postings (
  id         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entry_id   bigint  NOT NULL REFERENCES journal_entries (id),
  account_id bigint  NOT NULL REFERENCES accounts (id),
  currency   char(3) NOT NULL REFERENCES currencies (code),
  amount     bigint  NOT NULL CHECK (amount <> 0),
  UNIQUE (entry_id, account_id)
);
CREATE INDEX postings_account_idx ON postings (account_id, entry_id DESC);

-- Balances change only with postings, in the same transaction: the database applies them itself.
CREATE FUNCTION apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id AND currency = NEW.currency;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'posting % does not match account % and currency %', NEW.id, NEW.account_id, NEW.currency
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER postings_apply AFTER INSERT ON postings FOR EACH ROW EXECUTE FUNCTION apply_posting();

-- Every entry balances per currency; checked at commit so an entry's postings can be inserted one by one.
CREATE FUNCTION check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM postings WHERE entry_id = NEW.entry_id GROUP BY currency HAVING sum(amount) <> 0
  ) THEN
    RAISE EXCEPTION 'journal entry % does not balance', NEW.entry_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_balanced();

-- The journal is append-only.
CREATE FUNCTION reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION reject_change();

CREATE TABLE miniapps (
  client_id           text        PRIMARY KEY CHECK (client_id ~ '^ma_[a-z0-9_]{1,64}$'),
  name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  scopes              text[]      NOT NULL,
  pre_approved_scopes text[]      NOT NULL DEFAULT '{}' CHECK (pre_approved_scopes <@ scopes),
  status              text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
