import type { Config } from '../src/config';
import type { DatabasePool } from '../src/db/pool';
import type { LockoutPolicy } from '../src/domain/lockout';
import { webhookSealer } from '../src/miniapps/admin';
import { proofSealer } from '../src/factors/proofs';
import { totpSealer } from '../src/factors/totp';
import type { Logger } from '../src/logger';
import type { MatrixSettings } from '../src/matrix/client';
import { deviceActivities } from './device';
import { giftActivities } from './gifts';
import { matrixActivities } from './matrix';
import { p2pActivities } from './p2p';
import { paymentActivities } from './payments';
import { topUpActivities } from './topups';
import { webhookActivities } from './webhooks';
import { walletNoticeActivities } from './walletNotices';
import { withdrawalActivities } from './withdrawals';
import type { ProviderRegistry } from '../src/providers/registry';

export interface ActivityDeps {
  pool: DatabasePool;
  log: Logger;
  /** Undefined when no homeserver is configured: room events are skipped. */
  matrix: MatrixSettings | undefined;
  /** DATA_ENCRYPTION_KEY: opens the payment proofs the API sealed, and the TOTP secrets. */
  dataKey: Buffer;
  lockout: LockoutPolicy;
  /** Wallet defaults, for wallets created when a user approves a device grant. */
  wallet: Config['wallet'];
  /** The MFA policy of payments. */
  payments: Config['payments'];
  /** Whether webhooks may go to loopback and private addresses (WEBHOOK_ALLOW_PRIVATE_DESTINATIONS). */
  webhookAllowPrivate: boolean;
  /** The wallet providers of top-ups and withdrawals (none: both fail at once). */
  providers?: ProviderRegistry;
  now?: () => Date;
}

/**
 * Builds every activity with its dependencies; the worker calls this once, tests call it with
 * their own dependencies. Workflows import only the type.
 */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    ...p2pActivities({ pool: deps.pool, now, lockout: deps.lockout, proofSealer: proofSealer(deps.dataKey), totpSealer: totpSealer(deps.dataKey) }),
    ...deviceActivities({ pool: deps.pool, config: { wallet: deps.wallet } }),
    ...paymentActivities({
      pool: deps.pool,
      now,
      lockout: deps.lockout,
      proofSealer: proofSealer(deps.dataKey),
      totpSealer: totpSealer(deps.dataKey),
      config: deps.payments,
    }),
    ...giftActivities({
      pool: deps.pool,
      now,
      lockout: deps.lockout,
      proofSealer: proofSealer(deps.dataKey),
      totpSealer: totpSealer(deps.dataKey),
    }),
    ...webhookActivities({ pool: deps.pool, webhookSealer: webhookSealer(deps.dataKey), now, allowPrivateDestinations: deps.webhookAllowPrivate }),
    ...matrixActivities({ pool: deps.pool, log: deps.log, matrix: deps.matrix }),
    ...walletNoticeActivities({ pool: deps.pool, log: deps.log, matrix: deps.matrix }),
    ...topUpActivities({ pool: deps.pool, log: deps.log, providers: deps.providers }),
    ...withdrawalActivities({
      pool: deps.pool,
      log: deps.log,
      now,
      lockout: deps.lockout,
      proofSealer: proofSealer(deps.dataKey),
      totpSealer: totpSealer(deps.dataKey),
      providers: deps.providers,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
