import { Client, Connection } from '@temporalio/client';
import { sql } from 'slonik';
import { z } from 'zod';
import type { DatabasePool } from '../../src/db/pool';
import { P2P_EVENT_TYPE } from '../../src/domain/p2pEvents';
import { PAYMENT_COMPLETED_EVENT_TYPE } from '../../src/domain/paymentEvents';
import type { StubHomeserver } from '../helpers/stubHomeserver';
import type { Book, CallStats } from './load';

/** One invariant of the chaos run: what was measured, and whether it holds. */
export interface Invariant {
  name: string;
  measured: string;
  ok: boolean;
}

const Count = z.object({ n: z.number() });

/** Workflows still running: those with an activity past its first attempt are stuck retrying, the rest wait for a person or a timer. */
async function sagas(temporalAddress: string, taskQueue: string): Promise<{ running: Record<string, number>; retrying: string[] }> {
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const client = new Client({ connection });
    const running: Record<string, number> = {};
    const retrying: string[] = [];
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) {
      running[wf.type] = (running[wf.type] ?? 0) + 1;
      const described = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
      const pending = described.raw.pendingActivities ?? [];
      const stuck = pending.filter((a) => (a.attempt ?? 1) > 1);
      if (stuck.length > 0) retrying.push(`${wf.workflowId}: ${stuck.map((a) => `${a.activityType?.name} attempt ${a.attempt} (${a.lastFailure?.message ?? ''})`).join(', ')}`);
    }
    return { running, retrying };
  } finally {
    await connection.close();
  }
}

/** Room events of one type per id field, as the homeserver stored them (one per sender and transaction id). */
function eventsBy(hs: StubHomeserver, type: string, field: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of hs.events()) {
    if (e.type !== type) continue;
    const id = String(e.content[field]);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

export async function checkInvariants(input: { pool: DatabasePool; hs: StubHomeserver; book: Book; calls: CallStats; temporalAddress: string; taskQueue: string }): Promise<Invariant[]> {
  const { pool, hs, book } = input;
  const out: Invariant[] = [];
  const add = (name: string, measured: string, ok: boolean) => out.push({ name, measured, ok });

  const sums = await pool.any(sql.type(z.object({ currency: z.string(), total: z.string() }))`SELECT currency, sum(balance)::text AS total FROM accounts GROUP BY currency ORDER BY currency`);
  add('every currency sums to zero', sums.map((s) => `${s.currency.trim()} ${s.total}`).join(', '), sums.every((s) => s.total === '0'));
  const off = await pool.oneFirst(sql.type(Count)`
    SELECT count(*)::int AS n FROM accounts a
    WHERE a.balance <> coalesce((SELECT sum(p.amount) FROM postings p WHERE p.account_id = a.id), 0)`);
  add('every account equals the sum of its postings', `${off} accounts off`, off === 0);

  const wallets = await pool.any(sql.type(z.object({ wallet_id: z.string(), balance: z.bigint() }))`SELECT wallet_id, balance FROM accounts WHERE kind = 'wallet'`);
  const held = new Map(wallets.map((w) => [w.wallet_id, Number(w.balance)]));
  const differ = [...book.expected.entries()].filter(([id, minor]) => held.get(id) !== minor);
  add(
    'every wallet holds what the successful answers imply',
    `${book.expected.size - differ.length} of ${book.expected.size} wallets${differ.length ? `; off: ${differ.slice(0, 3).map(([id, m]) => `${id} expected ${m} holds ${held.get(id)}`).join(', ')}` : ''}`,
    differ.length === 0,
  );

  const twice = await pool.oneFirst(sql.type(Count)`
    SELECT count(*)::int AS n FROM (
      SELECT reference FROM journal_entries WHERE kind IN ('p2p_transfer', 'payment', 'gift_fund') GROUP BY kind, reference HAVING count(*) > 1) d`);
  const openedTwice = await pool.oneFirst(sql.type(Count)`SELECT count(*)::int AS n FROM (SELECT 1 FROM gift_openings GROUP BY gift_id, wallet_id HAVING count(*) > 1) d`);
  add('no transfer, payment or gift posted twice; no gift opened twice by one wallet', `${twice} references with two entries, ${openedTwice} double openings`, twice === 0 && openedTwice === 0);

  const escrows = await pool.any(sql.type(z.object({ id: z.string(), escrow: z.bigint(), unopened: z.bigint() }))`
    SELECT g.id, coalesce(a.balance, 0) AS escrow,
      (g.total_amount - coalesce((SELECT sum(o.amount) FROM gift_openings o WHERE o.gift_id = g.id), 0) - g.refunded_amount)::int8 AS unopened
    FROM gifts g LEFT JOIN accounts a ON a.kind = 'escrow' AND a.owner = g.id`);
  const badEscrows = escrows.filter((e) => e.escrow !== 0n && e.escrow !== e.unopened);
  add('every gift escrow is zero or its unopened shares', `${escrows.length - badEscrows.length} of ${escrows.length} gifts`, badEscrows.length === 0);

  const { running, retrying } = await sagas(input.temporalAddress, input.taskQueue);
  add(
    'every saga finished or waiting (none stuck retrying)',
    `running: ${Object.entries(running).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}; retrying: ${retrying.length}${retrying.length ? ` (${retrying.slice(0, 3).join('; ')})` : ''}`,
    retrying.length === 0 && !running.p2pSaga,
  );

  const transferEvents = eventsBy(hs, P2P_EVENT_TYPE, 'transfer_id');
  const paymentEvents = eventsBy(hs, PAYMENT_COMPLETED_EVENT_TYPE, 'payment_id');
  const notOnce = [...book.completedTransfers].filter((id) => transferEvents.get(id) !== 1);
  const strayTransfers = [...book.otherTransfers].filter((id) => transferEvents.has(id));
  add(
    'every completed transfer has exactly one room event, and no other transfer has one',
    `${book.completedTransfers.size - notOnce.length} of ${book.completedTransfers.size} once${notOnce.length ? ` (off: ${notOnce.slice(0, 3).map((id) => `${id} x${transferEvents.get(id) ?? 0}`).join(', ')})` : ''}; ${strayTransfers.length} events for transfers not completed`,
    notOnce.length === 0 && strayTransfers.length === 0,
  );
  const paidNotOnce = [...book.completedPayments.keys()].filter((id) => paymentEvents.get(id) !== 1);
  const strayPayments = [...book.otherPayments].filter((id) => paymentEvents.has(id));
  add(
    'every completed payment has exactly one completion event, and no other payment has one',
    `${book.completedPayments.size - paidNotOnce.length} of ${book.completedPayments.size} once${paidNotOnce.length ? ` (off: ${paidNotOnce.slice(0, 3).map((id) => `${id} x${paymentEvents.get(id) ?? 0}`).join(', ')})` : ''}; ${strayPayments.length} for payments not completed`,
    paidNotOnce.length === 0 && strayPayments.length === 0,
  );

  // A run where the operations were refused proves nothing: each kind must mostly succeed.
  const kinds = ['p2p', 'payment', 'payment with PIN', 'refund', 'gift drop', 'gift opening'];
  const weak = kinds.filter((k) => (book.succeeded[k] ?? 0) === 0 || (book.refused[k] ?? 0) > 0.01 * (book.tried[k] ?? 0));
  add(
    'every kind of operation succeeded, with at most 1% refused',
    kinds.map((k) => `${k} ${book.succeeded[k] ?? 0}/${book.tried[k] ?? 0}`).join(', '),
    weak.length === 0,
  );

  const { calls } = input;
  add(
    'every request was answered, or its retry with the same idempotency key was',
    `${calls.calls} calls, ${calls.retried} retried, ${calls.unanswered} never answered`,
    calls.unanswered === 0,
  );
  return out;
}
