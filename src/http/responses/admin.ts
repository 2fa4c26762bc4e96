import { z } from 'zod';
import { listSuspensions, suspensionView } from '../../abuse/suspensions';
import { CLIENT_TYPES, MINIAPP_STATUSES } from '../../domain/miniapps';
import { WALLET_STATUSES } from '../../domain/wallets';
import { housekeepingView, pauseHousekeeping } from '../../housekeeping/housekeeping';
import { createMiniapp, deleteMiniapp, getMiniapp, listMiniappViews, miniappView, patchMiniapp, rotateAppWebhookSecret, rotateClientSecret } from '../../miniapps/admin';
import { changeWallet, fundWallet } from '../../wallet/wallets';
import { withdrawalsForReconciliation } from '../../withdrawals/withdrawals';
import { AmountAnswer, CurrencyCode, describes, Instant } from './common';
import { WithdrawalAnswer } from './moneyEdge';

/** An operator's deposit into a wallet, from the funding account. */
export const FundAnswer = describes(
  z.object({
    txn_id: z.string(),
    wallet_id: z.string(),
    type: z.literal('deposit'),
    amount: AmountAnswer,
    currency: CurrencyCode,
    status: z.literal('completed'),
    created_at: Instant,
  }),
  async (...args: Parameters<typeof fundWallet>) => (await fundWallet(...args)).body,
);

export const WalletChanged = describes(
  z.object({ wallet_id: z.string(), user_id: z.string(), status: z.enum(WALLET_STATUSES), verification_level: z.number().int(), verified_at: Instant.nullable() }),
  changeWallet,
);

/** PROTO 11.4.5: a suspension for repeated rate-limit violations; its subject is a user, a client or an address. */
export const SuspensionAnswer = describes(
  z.object({
    suspension_id: z.string(),
    user_id: z.string().nullable(),
    client_id: z.string().nullable(),
    address: z.string().nullable(),
    reason: z.string(),
    suspended_at: Instant,
    suspended_until: Instant,
    lifted_at: Instant.nullable(),
  }),
  suspensionView,
);
export const SuspensionList = describes(z.object({ suspensions: z.array(SuspensionAnswer) }), listSuspensions);

const HousekeepingJob = z.object({
  job: z.string(),
  paused: z.boolean(),
  last_run_at: Instant.nullable(),
  last_swept: z.number().int().nullable(),
  last_error: z.string().nullable(),
  runner: z.string().nullable(),
});
export const HousekeepingAnswer = describes(z.object({ runner: z.string().nullable(), jobs: z.array(HousekeepingJob) }), housekeepingView);
export const HousekeepingChanged = describes(z.object({ jobs: z.array(HousekeepingJob) }), pauseHousekeeping);

/** Payouts to settle by hand: the withdrawal, whose it is, and why. */
export const ReconciliationList = describes(
  z.object({
    withdrawals: z.array(
      WithdrawalAnswer.extend({ owner_kind: z.enum(['user', 'merchant']), owner_id: z.string(), provider_ref: z.string().nullable(), reconcile: z.string().nullable() }),
    ),
  }),
  withdrawalsForReconciliation,
);

/** What the registry shows of a client (PROTO 4.2): never a secret, only whether it has one. */
export const MiniappAnswer = describes(
  z.object({
    client_id: z.string(),
    name: z.string(),
    client_type: z.enum(CLIENT_TYPES),
    status: z.enum(MINIAPP_STATUSES),
    first_party: z.boolean(),
    redirect_uris: z.array(z.string()),
    scopes: z.array(z.string()),
    pre_approved_scopes: z.array(z.string()),
    webhook_url: z.string().nullable(),
    has_client_secret: z.boolean(),
    backend_of: z.string().optional(),
    developer_id: z.string().optional(),
    description: z.string().optional(),
    version: z.string(),
    source: z.enum(['file', 'api']),
    created_at: Instant,
    updated_at: Instant,
  }),
  miniappView,
  getMiniapp,
);
export const MiniappList = describes(z.object({ mini_apps: z.array(MiniappAnswer) }), listMiniappViews);

/** A registration, with every secret it made: shown here once and nowhere else. */
export const MiniappCreated = describes(
  MiniappAnswer.extend({
    client_secret: z.string().optional(),
    backend: z.object({ client_id: z.string(), client_secret: z.string() }).optional(),
    webhook_secret: z.string().optional(),
  }),
  createMiniapp,
);

/** A new webhook URL comes with a new webhook secret, shown once. */
export const MiniappChanged = describes(MiniappAnswer.extend({ webhook_secret: z.string().optional() }), patchMiniapp);

export const ClientSecretRotated = describes(z.object({ client_id: z.string(), client_secret: z.string() }), rotateClientSecret);

/** The previous secret keeps signing beside the new one until previous_secret_valid_until. */
export const WebhookSecretRotated = describes(
  z.object({ client_id: z.string(), webhook_secret: z.string(), previous_secret_valid_until: Instant }),
  rotateAppWebhookSecret,
);

export const MiniappDeleted = describes(
  z.object({ client_id: z.string(), deleted: z.literal(true), revoked_sessions: z.number().int(), deleted_values: z.number().int(), withdrawn_consents: z.number().int() }),
  deleteMiniapp,
);
