import type { Transfer } from '../db/p2p';
import { amountToJson } from '../domain/money';

// Overloaded so a column that is never null reads as a string that is always there.
function iso(d: Date): string;
function iso(d: Date | null | undefined): string | undefined;
function iso(d: Date | null | undefined): string | undefined {
  return d?.toISOString();
}

export function parties(t: Transfer) {
  return {
    sender: { user_id: t.sender_user_id, wallet_id: t.sender_wallet_id },
    recipient: { user_id: t.recipient_user_id, wallet_id: t.recipient_wallet_id },
  };
}

/** The transfer as PostgreSQL has it; every saga step writes there. */
export function transferView(t: Transfer) {
  return {
    transfer_id: t.id,
    status: t.status,
    ...(t.status_reason ? { status_reason: t.status_reason } : {}),
    recipient_acceptance_required: t.recipient_acceptance_required,
    amount: amountToJson(t.amount, t.currency),
    currency: t.currency,
    ...(t.note !== null ? { note: t.note } : {}),
    ...(t.room_id !== null ? { room_id: t.room_id } : {}),
    ...parties(t),
    ...(t.auth_method ? { auth_method: t.auth_method } : {}),
    auth_attempts: t.auth_attempts,
    created_at: iso(t.created_at),
    authorization_expires_at: iso(t.authorization_expires_at),
    ...(t.confirmed_at ? { confirmed_at: iso(t.confirmed_at) } : {}),
    ...(t.acceptance_expires_at ? { acceptance_expires_at: iso(t.acceptance_expires_at) } : {}),
    ...(t.completed_at ? { completed_at: iso(t.completed_at) } : {}),
    ...(t.rejected_at ? { rejected_at: iso(t.rejected_at) } : {}),
    ...(t.expired_at ? { expired_at: iso(t.expired_at) } : {}),
    ...(t.cancelled_at ? { cancelled_at: iso(t.cancelled_at) } : {}),
    ...(t.event_id ? { event_id: t.event_id } : {}),
    ...(t.status_event_id ? { status_event_id: t.status_event_id } : {}),
    ...(t.event_error ? { event_error: t.event_error } : {}),
    ...(t.status_event_error ? { status_event_error: t.status_event_error } : {}),
    updated_at: iso(t.updated_at),
  };
}

