import { z } from 'zod';
import { registerDevice, enrollTotp } from '../../factors/enrolment';
import { AUTH_METHODS, P2P_STATES } from '../../domain/p2p';
import { WALLET_STATUSES } from '../../domain/wallets';
import { acceptTransfer, cancelTransfer, confirmTransfer, getTransfer, rejectTransfer } from '../../p2p/p2p';
import { transferView } from '../../p2p/views';
import { historyView, transactionReceipt } from '../../wallet/history';
import { inviteToWallet } from '../../wallet/invites';
import { balanceView, resolveUser, resolveUsers, setWalletSettings, verificationStatusView, walletView, walletWithBalances } from '../../wallet/wallets';
import { AmountAnswer, CurrencyCode, describes, HistoryPage, Instant, TransactionAnswer } from './common';

const WalletStatus = z.enum(WALLET_STATUSES);
const Features = z.object({ p2p_send: z.boolean(), p2p_receive: z.boolean(), miniapp_payments: z.boolean(), withdrawals: z.boolean() });

/** PROTO 6.3.4: the wallet registered (201) or already there (200). */
export const WalletAnswer = describes(
  z.object({
    wallet_id: z.string(),
    user_id: z.string(),
    status: WalletStatus,
    balance: z.object({ available: AmountAnswer, currency: CurrencyCode }),
    created_at: Instant,
  }),
  walletView,
  walletWithBalances,
);

/** PROTO 6.2.1 */
export const BalanceAnswer = describes(
  z.object({
    wallet_id: z.string(),
    user_id: z.string(),
    balance: z.object({ available: AmountAnswer, pending: AmountAnswer, currency: CurrencyCode }),
    limits: z.object({
      daily_limit: AmountAnswer,
      daily_used: AmountAnswer,
      monthly_limit: AmountAnswer,
      monthly_used: AmountAnswer,
      transaction_limit: AmountAnswer,
      currency: CurrencyCode,
    }),
    verification: z.object({
      level: z.number().int(),
      level_name: z.string(),
      features: Features,
      can_upgrade: z.boolean(),
      // Only below the top level.
      next_level: z.number().int().optional(),
      upgrade_requirements: z.array(z.string()).optional(),
    }),
    status: WalletStatus,
  }),
  balanceView,
);

export const WalletHistory = describes(HistoryPage, historyView);
export const WalletTransaction = describes(TransactionAnswer, transactionReceipt);

/** PROTO 6.4.2 */
export const VerificationAnswer = describes(
  z.object({
    level: z.number().int(),
    level_name: z.string(),
    verified_at: Instant.nullable(),
    limits: z.object({ daily_limit: AmountAnswer, transaction_limit: AmountAnswer, monthly_limit: AmountAnswer, currency: CurrencyCode }),
    features: Features,
    can_upgrade: z.boolean(),
  }),
  verificationStatusView,
);

/** PROTO 6.3.2: only an active wallet is a 200; the rest are errors. */
export const ResolvedUser = describes(
  z.object({
    user_id: z.string(),
    display_name: z.string().optional(),
    avatar_url: z.string().optional(),
    wallet_id: z.string(),
    wallet_status: WalletStatus,
    payment_enabled: z.literal(true),
    created_at: Instant,
  }),
  resolveUser,
);

/** PROTO 6.3.3: one result per requested id; a refused or walletless one carries its error instead of a wallet. */
export const ResolvedUsers = describes(
  z.object({
    results: z.array(
      z.object({
        user_id: z.string(),
        display_name: z.string().optional(),
        avatar_url: z.string().optional(),
        wallet_id: z.string().optional(),
        wallet_status: WalletStatus.optional(),
        payment_enabled: z.boolean().optional(),
        error: z.object({ code: z.string(), message: z.string() }).optional(),
      }),
    ),
    resolved_count: z.number().int(),
    total_count: z.number().int(),
    /** With room_id (PROTO 6.3.9): each member by user id. */
    users: z
      .record(
        z.object({
          has_wallet: z.boolean(),
          wallet_status: z.enum([...WALLET_STATUSES, 'none', 'unknown']),
          display_name: z.string().optional(),
          invite_url: z.string().optional(),
          error: z.object({ code: z.string(), message: z.string() }).optional(),
        }),
      )
      .optional(),
  }),
  resolveUsers,
);

const Party = z.object({ user_id: z.string(), wallet_id: z.string() });
const P2PStatus = z.enum(P2P_STATES);

/**
 * PROTO 7.2.3. Not checked against a view: the answer is stored at initiation and replayed from
 * its JSON column, which types as a plain record.
 */
export const InitiatedTransfer = z.object({
  transfer_id: z.string(),
  status: z.literal('pending_authorization'),
  available_methods: z.array(z.enum(AUTH_METHODS)),
  recipient_acceptance_required: z.boolean(),
  amount: AmountAnswer,
  currency: CurrencyCode,
  note: z.string().optional(),
  room_id: z.string().optional(),
  sender: z.object({ user_id: z.string() }),
  recipient: z.object({ user_id: z.string() }),
  timestamp: Instant,
  expires_at: Instant,
});

// The saga's snapshot types its timestamps optional; its handlers set the one each answer reads.

/** PROTO 7.2.4 */
export const ConfirmedTransfer = describes(
  z.object({
    transfer_id: z.string(),
    status: P2PStatus,
    recipient_acceptance_required: z.boolean(),
    amount: AmountAnswer,
    currency: CurrencyCode,
    sender: Party,
    recipient: Party,
    timestamp: Instant.optional(),
    // When the recipient must accept: until when.
    expires_at: Instant.optional(),
    event_id: z.string().optional(),
  }),
  confirmTransfer,
);

/** PROTO 7.2.7 accept */
export const AcceptedTransfer = describes(
  z.object({
    transfer_id: z.string(),
    status: P2PStatus,
    amount: AmountAnswer,
    currency: CurrencyCode,
    recipient: Party,
    accepted_at: Instant.optional(),
    new_balance: AmountAnswer,
  }),
  acceptTransfer,
);

/** PROTO 7.2.7 reject */
export const RejectedTransfer = describes(
  z.object({
    transfer_id: z.string(),
    status: P2PStatus,
    rejected_at: Instant.optional(),
    refund_initiated: z.literal(true),
    refund_expected_at: Instant.optional(),
  }),
  rejectTransfer,
);

/** A transfer as PostgreSQL has it (cancel's answer, and GET). */
export const TransferAnswer = describes(
  z.object({
    transfer_id: z.string(),
    status: P2PStatus,
    status_reason: z.string().optional(),
    recipient_acceptance_required: z.boolean(),
    amount: AmountAnswer,
    currency: CurrencyCode,
    note: z.string().optional(),
    room_id: z.string().optional(),
    sender: Party,
    recipient: Party,
    auth_method: z.string().optional(),
    auth_attempts: z.number().int(),
    created_at: Instant,
    authorization_expires_at: Instant,
    confirmed_at: Instant.optional(),
    acceptance_expires_at: Instant.optional(),
    completed_at: Instant.optional(),
    rejected_at: Instant.optional(),
    expired_at: Instant.optional(),
    cancelled_at: Instant.optional(),
    event_id: z.string().optional(),
    status_event_id: z.string().optional(),
    event_error: z.string().optional(),
    status_event_error: z.string().optional(),
    updated_at: Instant,
  }),
  transferView,
  cancelTransfer,
  getTransfer,
);

/** PROTO-mfa-v1.2 7.4.5 */
export const DeviceAnswer = describes(
  z.object({ device_id: z.string(), registered_at: Instant, status: z.enum(['active', 'revoked']), public_key_hash: z.string() }),
  async (...args: Parameters<typeof registerDevice>) => (await registerDevice(...args)).body,
);

/** Built in the route: 201 `set` for a first PIN, 200 `changed` for a new one. */
export const PinAnswer = z.object({ method: z.literal('pin'), status: z.enum(['set', 'changed']) });

/** The secret, shown once. */
export const TotpAnswer = describes(
  z.object({ method: z.literal('otp'), otpauth_uri: z.string(), digits: z.number().int(), period: z.number().int() }),
  enrollTotp,
);

export const WalletSettingsAnswer = describes(
  z.object({ wallet_id: z.string(), require_p2p_acceptance: z.boolean(), require_payment_mfa: z.boolean() }),
  setWalletSettings,
);

/** PROTO 6.3.10: the invitation is on its way (202): the payments bot posts it with the room events' retries. */
export const WalletInviteAnswer = describes(
  z.object({ invited: z.literal(true), user_id: z.string(), room_id: z.string(), invite_url: z.string(), workflow_id: z.string() }),
  inviteToWallet,
);
