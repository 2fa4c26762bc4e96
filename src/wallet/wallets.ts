import type { Config } from '../config';
import { postEntry, walletBalanceByUser, walletBalances } from '../db/ledger';
import type { DatabasePool } from '../db/pool';
import { insertWallet, setWalletPolicies, updateWallet, walletById, walletByUser, walletsByUsers, type Wallet } from '../db/wallets';
import { currencyMismatch, walletInviteUrl, type WalletStatus } from '../domain/wallets';

import { DomainError, invalidField } from '../domain/errors';
import { amountToJson, parseAmount, type Currency } from '../domain/money';
import { MAX_VERIFICATION_LEVEL, verificationLevel } from '../domain/verification';
import { newId } from '../ids';
import type { UserContexts } from '../matrix/profiles';
import type { Rooms } from '../matrix/rooms';

export interface WalletDeps {
  pool: DatabasePool;
  config: Pick<Config, 'wallet'>;
}

/** Wallet resolution (PROTO 6.3.7) answers only about people the caller shares a room with. */
export interface ResolveDeps {
  pool: DatabasePool;
  rooms: Rooms;
  /** Display names and avatars from the homeserver, cached (none when Matrix is off). */
  profiles?: UserContexts;
}

/**
 * Creates the caller's wallet, or returns the existing one. A user may set a daily limit below the
 * configured default when registering (PROTO 6.3.4 `initial_settings.daily_limit`), never above it.
 */
export async function registerWallet(
  deps: WalletDeps,
  userId: string,
  request: { currency?: Currency; dailyLimit?: number | string } = {},
): Promise<{ wallet: Wallet; created: boolean }> {
  const { wallet } = deps.config;
  const currency = request.currency ?? wallet.defaultCurrency;
  let dailyLimit = wallet.dailyLimit;
  if (request.dailyLimit !== undefined) {
    dailyLimit = parseAmount(request.dailyLimit, currency, 'initial_settings.daily_limit');
    if (dailyLimit > wallet.dailyLimit) {
      throw invalidField('initial_settings.daily_limit', `must not exceed ${amountToJson(wallet.dailyLimit, currency)}`);
    }
  }
  return insertWallet(deps.pool, {
    id: newId('wallet'),
    userId,
    currency,
    transactionLimit: wallet.transactionLimit,
    dailyLimit,
    monthlyLimit: wallet.monthlyLimit,
  });
}


/** The caller's own wallet; 404 NO_WALLET until they register one. */
export const noWallet = (userId: string) => new DomainError('NO_WALLET', 'You do not have a wallet yet; register one first', { user_id: userId });

export async function ownWallet(deps: Pick<WalletDeps, 'pool'>, userId: string): Promise<Wallet> {
  const wallet = await walletByUser(deps.pool, userId);
  if (!wallet) throw noWallet(userId);
  return wallet;
}

/**
 * The owner's policies: `require_p2p_acceptance` (every transfer to the wallet waits for its owner
 * to accept) and `require_payment_mfa` (every mini-app payment asks for a second factor).
 */
export async function setWalletSettings(deps: Pick<WalletDeps, 'pool'>, userId: string, settings: { requireP2PAcceptance?: boolean; requirePaymentMfa?: boolean }) {
  const wallet = await setWalletPolicies(deps.pool, (await ownWallet(deps, userId)).id, settings);
  return { wallet_id: wallet.id, require_p2p_acceptance: wallet.require_p2p_acceptance, require_payment_mfa: wallet.require_payment_mfa };
}

/** walletView with the wallet's balances read now (the answer of registration). */
export async function walletWithBalances(deps: Pick<WalletDeps, 'pool'>, wallet: Wallet) {
  return walletView(wallet, await walletBalances(deps.pool, wallet.id, wallet.currency));
}

/** An operator changes a wallet's status or verification level; NO_WALLET when there is none. */
export async function changeWallet(deps: Pick<WalletDeps, 'pool'>, walletId: string, change: { status?: WalletStatus; verificationLevel?: number }) {
  const wallet = await updateWallet(deps.pool, walletId, change);
  if (!wallet) throw new DomainError('NO_WALLET', 'Wallet does not exist', { wallet_id: walletId });
  return {
    wallet_id: wallet.id,
    user_id: wallet.user_id,
    status: wallet.status,
    verification_level: wallet.verification_level,
    verified_at: wallet.verified_at?.toISOString() ?? null,
  };
}

export function walletView(wallet: Wallet, balance: { available: bigint }) {
  return {
    wallet_id: wallet.id,
    user_id: wallet.user_id,
    status: wallet.status,
    balance: { available: amountToJson(balance.available, wallet.currency), currency: wallet.currency },
    created_at: wallet.created_at.toISOString(),
  };
}

function verificationView(wallet: Pick<Wallet, 'verification_level'>) {
  const level = verificationLevel(wallet.verification_level);
  const next = wallet.verification_level < MAX_VERIFICATION_LEVEL ? wallet.verification_level + 1 : null;
  return {
    level: wallet.verification_level,
    level_name: level.name,
    features: level.features,
    can_upgrade: next !== null,
    ...(next !== null ? { next_level: next, upgrade_requirements: [...level.requirements] } : {}),
  };
}

/** PROTO 6.2.1 */
export async function balanceView(deps: Pick<WalletDeps, 'pool'>, userId: string, currency?: Currency) {
  const wallet = await walletBalanceByUser(deps.pool, userId, currency);
  if (!wallet) throw noWallet(userId);
  const shown = currency ?? wallet.currency;
  const money = (minor: bigint) => amountToJson(minor, shown);
  return {
    wallet_id: wallet.id,
    user_id: wallet.user_id,
    balance: { available: money(wallet.available), pending: money(wallet.pending), currency: shown },
    limits: {
      daily_limit: amountToJson(wallet.daily_limit, wallet.currency),
      daily_used: money(wallet.used_day),
      monthly_limit: amountToJson(wallet.monthly_limit, wallet.currency),
      monthly_used: money(wallet.used_month),
      transaction_limit: amountToJson(wallet.transaction_limit, wallet.currency),
      currency: wallet.currency,
    },
    verification: verificationView(wallet),
    status: wallet.status,
  };
}

/** PROTO 6.4.2 */
export function verificationStatusView(wallet: Wallet) {
  const view = verificationView(wallet);
  return {
    level: view.level,
    level_name: view.level_name,
    verified_at: wallet.verified_at?.toISOString() ?? null,
    limits: {
      daily_limit: amountToJson(wallet.daily_limit, wallet.currency),
      transaction_limit: amountToJson(wallet.transaction_limit, wallet.currency),
      monthly_limit: amountToJson(wallet.monthly_limit, wallet.currency),
      currency: wallet.currency,
    },
    features: view.features,
    can_upgrade: view.can_upgrade,
  };
}

/**
 * The users among `userIds` that `callerId` may resolve: those sharing a room with the caller, or,
 * with `roomId`, those joined to that room with the caller. The caller may always resolve themself.
 */
async function visibleTo(rooms: Rooms, callerId: string, userIds: readonly string[], roomId: string | undefined): Promise<Set<string>> {
  const others = userIds.filter((u) => u !== callerId);
  let visible: Set<string>;
  if (roomId !== undefined) {
    const joined = await rooms.joinedIn(roomId, [callerId, ...others]);
    visible = joined.has(callerId) ? joined : new Set();
  } else {
    visible = await rooms.sharingARoom(callerId, others);
  }
  if (userIds.includes(callerId)) visible.add(callerId);
  return visible;
}

function notShared(userId: string, roomId: string | undefined): DomainError {
  return new DomainError(
    'INSUFFICIENT_PERMISSIONS',
    roomId ? 'You and this user are not both members of that room' : 'You can only resolve users you share a room with',
    { user_id: userId, ...(roomId ? { room_id: roomId } : {}) },
  );
}

/** PROTO 6.3.2: 200 for an active wallet, 404 NO_WALLET, 403 WALLET_SUSPENDED for any other status; 403 first when no room is shared. */
export async function resolveUser(deps: ResolveDeps, callerId: string, userId: string, roomId?: string) {
  if (!(await visibleTo(deps.rooms, callerId, [userId], roomId)).has(userId)) throw notShared(userId, roomId);
  const wallet = await walletByUser(deps.pool, userId);
  if (!wallet) {
    // PROTO 6.3.2's body: the details beside code and message too, with what to offer the caller.
    const name = (await deps.profiles?.(userId))?.display_name ?? userId.slice(1).split(':')[0];
    throw new DomainError('NO_WALLET', 'User does not have a wallet', { user_id: userId, can_invite: true, invite_message: `Invite ${name} to create a Tween Wallet` }, true);
  }
  if (wallet.status !== 'active') {
    throw new DomainError('WALLET_SUSPENDED', 'User wallet is not active', { user_id: userId, wallet_status: wallet.status });
  }
  return {
    user_id: wallet.user_id,
    ...(await deps.profiles?.(wallet.user_id)),
    wallet_id: wallet.id,
    wallet_status: wallet.status,
    payment_enabled: true as const,
    created_at: wallet.created_at.toISOString(),
  };
}

/** PROTO 6.3.3: one result per requested id, in request order; a user sharing no room with the caller is refused alone. */
export async function resolveUsers(deps: ResolveDeps, callerId: string, userIds: readonly string[], roomId?: string) {
  const visible = await visibleTo(deps.rooms, callerId, userIds, roomId);
  const found = new Map((await walletsByUsers(deps.pool, userIds.filter((u) => visible.has(u)))).map((w) => [w.user_id, w]));
  // PROTO 6.3.3 names each payable user as the homeserver does: display name and avatar, cached.
  const named = new Map(await Promise.all([...found.keys()].map(async (userId) => [userId, await deps.profiles?.(userId)] as const)));
  const results = userIds.map((userId) => {
    if (!visible.has(userId)) {
      const refusal = notShared(userId, roomId);
      return { user_id: userId, error: { code: refusal.code, message: refusal.message } };
    }
    const wallet = found.get(userId);
    if (!wallet) return { user_id: userId, error: { code: 'NO_WALLET', message: 'User does not have a wallet' } };
    if (wallet.status !== 'active') {
      return { user_id: userId, wallet_status: wallet.status, payment_enabled: false, error: { code: 'WALLET_SUSPENDED', message: 'User wallet is not active' } };
    }
    return { user_id: userId, ...named.get(userId), wallet_id: wallet.id, wallet_status: wallet.status, payment_enabled: true };
  });
  const answer = { results, resolved_count: results.filter((r) => 'wallet_id' in r).length, total_count: results.length };
  // Asked about a room's members (PROTO 6.3.9, which sends room_id): its `users` map as well.
  return roomId === undefined ? answer : { ...answer, users: Object.fromEntries(results.map((r) => [r.user_id, memberStatus(r)])) };
}

/** One room member in 6.3.9's map: whether they have a wallet, its status, their name; an invitation when they have none. */
function memberStatus(r: { user_id: string; display_name?: string; wallet_status?: WalletStatus; error?: { code: string; message: string } }) {
  if (r.wallet_status) return { has_wallet: true, wallet_status: r.wallet_status, ...(r.display_name ? { display_name: r.display_name } : {}) };
  if (r.error?.code === 'NO_WALLET') return { has_wallet: false, wallet_status: 'none' as const, invite_url: walletInviteUrl(r.user_id) };
  return { has_wallet: false, wallet_status: 'unknown' as const, ...(r.error ? { error: r.error } : {}) };
}

/**
 * Operator funding: money enters from the system funding account as an ordinary journal entry.
 * The operator's idempotency key makes a retried call return the first result.
 */
export async function fundWallet(
  deps: Pick<WalletDeps, 'pool'>,
  walletId: string,
  request: { amount: bigint; currency: Currency; idempotencyKey: string; note?: string },
) {
  const wallet = await walletById(deps.pool, walletId);
  if (!wallet) throw new DomainError('NO_WALLET', 'Wallet does not exist', { wallet_id: walletId });
  if (wallet.status === 'closed') throw new DomainError('WALLET_SUSPENDED', 'Wallet is closed', { wallet_id: walletId });
  if (request.currency !== wallet.currency) throw currencyMismatch(wallet, request.currency);
  const entry = await postEntry(deps.pool, {
    idempotencyKey: `admin-fund:${request.idempotencyKey}`,
    kind: 'funding',
    reference: walletId,
    metadata: request.note ? { note: request.note } : {},
    postings: [
      { account: { kind: 'funding', currency: request.currency }, amount: -request.amount },
      { account: { kind: 'wallet', walletId, currency: request.currency }, amount: request.amount },
    ],
  });
  return {
    replayed: entry.replayed,
    body: {
      txn_id: entry.txnId,
      wallet_id: walletId,
      type: 'deposit' as const,
      amount: amountToJson(request.amount, request.currency),
      currency: request.currency,
      status: 'completed' as const,
      created_at: entry.createdAt.toISOString(),
    },
  };
}
