import { z } from 'zod';

/**
 * A documented answer's schema, checked against the functions that build it: tsc fails when a view
 * drifts from what /openapi.json says of it. Costs nothing at run time.
 */
export function describes<S extends z.ZodTypeAny>(schema: S, ..._views: Array<(...args: never[]) => z.input<S> | Promise<z.input<S>>>): S {
  return schema;
}

/** An amount in major units as JSON carries it (PROTO: `15.00` is 15), exact to the currency's precision. */
export const AmountAnswer = z.number();
/** ISO 8601, as `Date.toISOString()` writes it. */
export const Instant = z.string().datetime({ offset: true });
export const CurrencyCode = z.string().length(3);

/** A page of a list that is not ledger history: offset paging. */
export const OffsetPage = z.object({ limit: z.number().int(), offset: z.number().int(), has_more: z.boolean() });

/** A wallet's or merchant's ledger entries (PROTO 6.2.2), paged on a snapshot so later pages read the same listing. */
export const TransactionAnswer = z.object({
  txn_id: z.string(),
  type: z.string(),
  amount: AmountAnswer,
  direction: z.enum(['debit', 'credit']),
  currency: CurrencyCode,
  to: z.object({ user_id: z.string() }).optional(),
  from: z.object({ user_id: z.string() }).optional(),
  status: z.string(),
  note: z.string().optional(),
  reference: z.string().optional(),
  timestamp: Instant,
  room_id: z.string().optional(),
});
export const HistoryPage = z.object({
  transactions: z.array(TransactionAnswer),
  pagination: z.object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int(), has_more: z.boolean(), snapshot: z.string() }),
});

/** `{}`: Matrix's answer when there is nothing to say. */
export const Empty = z.object({});
