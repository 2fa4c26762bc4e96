import pg from 'pg';

/**
 * A grown ledger for bench:load's growth comparison, written straight into PostgreSQL in bulk (set
 * operations, not the API): `wallets` wallets, each funded once, and transfers of one minor unit
 * between them up to `entries` journal entries. The entries are dated 60 days back, so they weigh on
 * every table and index but not on this month's spending limits. The postings' triggers are off
 * while they are written (one statement each instead of two million trigger calls) and the balances
 * are then set from the postings in one UPDATE, so every account still equals the sum of its
 * postings and the ledger still sums to zero.
 */
export async function growLedger(databaseUrl: string, size: { entries: number; wallets: number }): Promise<{ seconds: number; journalEntries: number }> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE postings DISABLE TRIGGER USER');
    const run = `bulk${Date.now().toString(36)}`;
    // Wallet ids must read tw_ + 24 of [a-z2-7]: the number's digits as letters, padded.
    await client.query(
      `INSERT INTO wallets (id, user_id, currency, transaction_limit, daily_limit, monthly_limit, created_at, updated_at)
       SELECT 'tw_' || lpad(translate(i::text, '0123456789', 'abcdefghij'), 24, 'z'), '@' || $1 || '_' || i || ':localhost', 'USD',
              50000, 100000, 1000000, now() - interval '60 days', now() - interval '60 days'
       FROM generate_series(1, $2::int) i`,
      [run, size.wallets],
    );
    await client.query(
      `INSERT INTO accounts (kind, owner, wallet_id, currency, created_at)
       SELECT 'wallet', w.id, w.id, 'USD', w.created_at FROM wallets w WHERE w.user_id LIKE '@' || $1 || '\\_%'`,
      [run],
    );
    await client.query(
      `CREATE TEMP TABLE bulk_accounts ON COMMIT DROP AS
       SELECT row_number() OVER (ORDER BY a.id) AS n, a.id FROM accounts a JOIN wallets w ON w.id = a.owner
       WHERE a.kind = 'wallet' AND w.user_id LIKE '@' || $1 || '\\_%'`,
      [run],
    );
    const funding = await client.query<{ id: string }>(`SELECT id FROM accounts WHERE kind = 'funding' AND currency = 'USD'`);
    if (funding.rows.length !== 1) throw new Error('no USD funding account: run a top-up or an operator funding first');
    // Entry i: the first `wallets` fund one wallet each; the rest move one minor unit from wallet i to
    // another, at an offset of 1..wallets-1 that changes every round (never the same wallet twice in one entry).
    await client.query('CREATE UNIQUE INDEX ON bulk_accounts (n)');
    await client.query(
      `CREATE TEMP TABLE bulk_entries ON COMMIT DROP AS
       SELECT g.i, CASE WHEN g.i <= $1 THEN $3::bigint ELSE d.id END AS debit, c.id AS credit, CASE WHEN g.i <= $1 THEN 100000 ELSE 1 END AS amount
       FROM generate_series(1, $2::int) g (i)
       JOIN bulk_accounts d ON d.n = 1 + (g.i % $1)
       JOIN bulk_accounts c ON c.n = 1 + (CASE WHEN g.i <= $1 THEN g.i - 1 ELSE (g.i % $1) + 1 + (g.i / $1) % ($1 - 1) END) % $1`,
      [size.wallets, size.entries, funding.rows[0]!.id],
    );
    await client.query(
      `WITH e AS (
         INSERT INTO journal_entries (txn_id, idempotency_key, kind, metadata, created_at)
         SELECT 'txn_' || $1 || '_' || i, $1 || '-' || i, CASE WHEN amount = 1 THEN 'p2p_transfer' ELSE 'funding' END, '{}', now() - interval '60 days'
         FROM bulk_entries ORDER BY i
         RETURNING id, txn_id)
       INSERT INTO postings (entry_id, account_id, currency, amount)
       SELECT e.id, side.account_id, 'USD', side.amount
       FROM e JOIN bulk_entries b ON e.txn_id = 'txn_' || $1 || '_' || b.i
       CROSS JOIN LATERAL (VALUES (b.debit, -b.amount), (b.credit, b.amount)) AS side (account_id, amount)`,
      [run],
    );
    await client.query(
      `UPDATE accounts a SET balance = s.total
       FROM (SELECT account_id, sum(amount) AS total FROM postings WHERE account_id IN (SELECT debit FROM bulk_entries UNION SELECT credit FROM bulk_entries) GROUP BY account_id) s
       WHERE a.id = s.account_id`,
    );
    await client.query('ALTER TABLE postings ENABLE TRIGGER USER');
    await client.query('COMMIT');
    await settle(client);
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM journal_entries');
    return { seconds: (Date.now() - started) / 1000, journalEntries: Number(rows[0]!.n) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * The database as a measurement should find it, before the empty ledger's round as after the
 * grown one's load: vacuumed and analysed now (not by autovacuum during the next window), its
 * writes checkpointed, and no autovacuum worker left running.
 */
async function settle(client: pg.Client): Promise<void> {
  await client.query('VACUUM (ANALYZE)');
  await client.query('CHECKPOINT').catch(() => undefined); // superuser only; the embedded PostgreSQL's user is
  for (let waited = 0; waited < 120_000; waited += 1000) {
    const busy = await client.query(`SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`);
    if (busy.rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function settleDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await settle(client);
  } finally {
    await client.end();
  }
}

/**
 * The plans of the hot queries as PostgreSQL runs them (EXPLAIN ANALYZE, buffers): GET balance's
 * function and its account read, a history page (count and rows, written as src/db/history.ts
 * writes them, without the transfer and withdrawal joins) at offset 0 and 2,450, and the ledger's
 * account lock and idempotency lookup.
 */
export async function explainHotQueries(databaseUrl: string, who: { userId: string; walletId: string }): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Each plan is the second run in this session: the first also compiles and plans a PL/pgSQL function, as a pooled connection does once.
    const plan = async (query: string, params: unknown[]) => {
      const explain = () => client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${query}`, params);
      await explain();
      return (await explain()).rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const visible = '(p.xid IS NULL OR pg_visible_in_snapshot(p.xid, pg_current_snapshot()))';
    const history = (offset: number) =>
      plan(
        `SELECT e.txn_id, e.kind, p.amount FROM (
           SELECT newest.* FROM accounts a
           CROSS JOIN LATERAL (
             SELECT p.entry_id, p.currency, p.amount FROM postings p
             WHERE p.account_id = a.id AND ${visible}
             ORDER BY p.entry_id DESC LIMIT ${offset + 50}) newest
           WHERE a.kind = 'wallet' AND a.owner = $1
           ORDER BY newest.entry_id DESC LIMIT 50 OFFSET ${offset}) p
         JOIN journal_entries e ON e.id = p.entry_id
         ORDER BY p.entry_id DESC`,
        [who.walletId],
      );
    return {
      'wallet_balance (GET balance)': await plan('SELECT * FROM wallet_balance($1, NULL)', [who.userId]),
      'wallet account by owner': await plan(`SELECT balance FROM accounts WHERE kind = 'wallet' AND owner = $1 AND currency = 'USD'`, [who.walletId]),
      'history count': await plan(`SELECT count(*) FROM accounts a JOIN postings p ON p.account_id = a.id WHERE a.kind = 'wallet' AND a.owner = $1 AND ${visible}`, [who.walletId]),
      'history page 1': await history(0),
      'history page 50': await history(2450),
      'idempotency lookup': await plan('SELECT id FROM journal_entries WHERE idempotency_key = $1', ['not-there']),
      'account lock': await plan(`SELECT id, balance FROM accounts WHERE kind = 'wallet' AND owner = $1 AND currency = 'USD' FOR UPDATE`, [who.walletId]),
    };
  } finally {
    await client.end();
  }
}

/**
 * `entries` credits of one minor unit from the funding account to one wallet, through the ledger's
 * triggers (balances and the zero-sum check as always): a history of that many entries, so its
 * 50th page exists.
 */
export async function bulkHistory(databaseUrl: string, walletId: string, entries: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const run = `hist${Date.now().toString(36)}`;
    await client.query('BEGIN');
    await client.query(
      `WITH e AS (
         INSERT INTO journal_entries (txn_id, idempotency_key, kind, metadata)
         SELECT 'txn_' || $1 || '_' || i, $1 || '-' || i, 'funding', '{}' FROM generate_series(1, $3::int) i
         RETURNING id)
       INSERT INTO postings (entry_id, account_id, currency, amount)
       SELECT e.id, side.account_id, 'USD', side.amount
       FROM e CROSS JOIN LATERAL (VALUES
         ((SELECT id FROM accounts WHERE kind = 'funding' AND currency = 'USD'), -1::bigint),
         ((SELECT id FROM accounts WHERE kind = 'wallet' AND owner = $2 AND currency = 'USD'), 1::bigint)) AS side (account_id, amount)`,
      [run, walletId, entries],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
