import type { Config } from '../src/config';
import { recordConsents } from '../src/db/consents';
import type { DatabasePool } from '../src/db/pool';
import { activityInfo } from '@temporalio/activity';
import { recordGrantApproval } from '../src/db/deviceGrants';
import { grantIdOf, type DeviceApproval } from '../src/domain/deviceGrant';
import { registerWallet } from '../src/wallet/wallets';
import { domainFailures } from './failures';

export interface DeviceActivityDeps {
  pool: DatabasePool;
  config: Pick<Config, 'wallet'>;
}

/** The device grant's side effect; safe to retry (consents and wallets are created once). */
export function deviceActivities(deps: DeviceActivityDeps) {
  return {
    /**
     * The user approved a device grant: the scopes they saw are recorded as their consent (later
     * exchanges grant them without asking) and their wallet is resolved or created for the tokens.
     */
    recordDeviceApproval(req: { clientId: string; userId: string; scopes: string[] }): Promise<DeviceApproval> {
      return domainFailures(async () => {
        await recordConsents(deps.pool, req.userId, req.clientId, req.scopes);
        const { wallet } = await registerWallet(deps, req.userId);
        const approval = { userId: req.userId, walletId: wallet.id };
        // Kept with the grant, so a redemption whose write failed can be made again (pollDeviceGrant).
        const workflowId = activityInfo().workflowExecution?.workflowId;
        if (workflowId) await recordGrantApproval(deps.pool, grantIdOf(workflowId), approval);
        return approval;
      });
    },
  };
}
