-- A wallet holds one currency: its wallet and hold accounts are in that currency and no other.
-- Money credited to a wallet in another currency would sit where its owner can neither spend nor
-- withdraw it, so the database refuses the account before any posting can reach it.
CREATE FUNCTION check_wallet_account_currency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A wallet that does not exist is the foreign key's to refuse (NO_WALLET), not this check's.
  IF NEW.wallet_id IS NOT NULL AND EXISTS (SELECT 1 FROM wallets WHERE id = NEW.wallet_id AND currency <> NEW.currency) THEN
    RAISE EXCEPTION 'wallet % does not hold %', NEW.wallet_id, NEW.currency
      USING ERRCODE = 'check_violation', CONSTRAINT = 'wallet_account_currency';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER accounts_wallet_currency BEFORE INSERT OR UPDATE OF currency, wallet_id ON accounts
  FOR EACH ROW EXECUTE FUNCTION check_wallet_account_currency();
