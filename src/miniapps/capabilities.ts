import type { Config } from '../config';
import type { DatabasePool } from '../db/pool';
import { walletByUser } from '../db/wallets';
import { amountToJson } from '../domain/money';
import { availableMethods } from '../factors/enrolment';
import type { VerifiedTep } from '../auth/tep';

/** The protocol version this server speaks (PROTO's own). */
export const TMCP_VERSION = '1.0';

/**
 * PROTO 10.5.2: what this mini-app may use, for this user, as the server sees it. It follows the
 * token's scopes (10.5.4) and, for an app with `wallet:pay`, the user's wallet and payment factors. The device's own features
 * (camera, location) are the messenger's to answer, not the server's, and are left out.
 */
export async function capabilitiesFor(deps: { pool: DatabasePool; config: Pick<Config, 'storage' | 'matrix'> }, tep: VerifiedTep) {
  // The wallet's limit and the user's factors are the user's own: only an app they let pay sees them.
  const mayPay = tep.scopes.has('wallet:pay');
  const [wallet, methods] = mayPay ? await Promise.all([walletByUser(deps.pool, tep.userId), availableMethods(deps.pool, tep.userId)]) : [null, []];
  return {
    capabilities: {
      payment: {
        available: wallet?.status === 'active',
        providers: ['wallet'],
        ...(wallet ? { max_amount: amountToJson(wallet.transaction_limit, wallet.currency), currency: wallet.currency } : {}),
      },
      storage: {
        available: tep.scopes.has('storage:read') || tep.scopes.has('storage:write'),
        quota_bytes: deps.config.storage.quotaBytes,
        persistent: true,
      },
      // Through the app's bot, in rooms it was let into (PROTO 4.16: src/matrix/appActions.ts); no uploads.
      messaging: { available: deps.config.matrix !== undefined && tep.scopes.has('messaging:send'), rich_cards: true, file_upload: false },
      // The user's payment factors: what a payment's second factor can ask for (wallet:pay only).
      biometric: { available: methods.includes('biometric'), types: methods },
    },
    platform: { tmcp_version: TMCP_VERSION },
    features: { group_gifts: true, p2p_transfers: true, miniapp_payments: true },
  };
}
