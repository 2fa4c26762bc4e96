import { recordTransferEvent, setAuthAttempts } from '../src/db/p2p';
import type { DatabasePool } from '../src/db/pool';
import type { Currency } from '../src/domain/money';
import type { AuthProof } from '../src/domain/p2p';
import { closeTransfer, finishHeldTransfer, settleTransfer } from '../src/wallet/p2pLedger';
import { verifyPaymentProof } from '../src/wallet/paymentProofs';
import { domainFailures } from './failures';

export interface P2PActivityDeps {
  pool: DatabasePool;
  now: () => Date;
}

/** The P2P saga's side effects; each is safe to retry (fixed ledger keys, status changes guarded by the current state). */
export function p2pActivities(deps: P2PActivityDeps) {
  return {
    verifyP2PProof(req: { transferId: string; userId: string; amountMinor: string; currency: Currency; proof: AuthProof; attemptKey: string }) {
      return domainFailures(() => verifyPaymentProof(deps, { ...req, amountMinor: BigInt(req.amountMinor) }));
    },

    settleP2P(req: { transferId: string; authMethod: string; authAttempts: number; acceptanceExpiresAt?: string }) {
      return domainFailures(() => settleTransfer(deps.pool, req));
    },

    finishP2P(req: { transferId: string; outcome: 'accepted' | 'rejected' | 'expired'; reason?: string; message?: string }) {
      return domainFailures(() => finishHeldTransfer(deps.pool, req));
    },

    closeP2P(req: { transferId: string; status: 'cancelled' | 'auth_failed'; reason: string; authAttempts: number }) {
      return domainFailures(() => closeTransfer(deps.pool, req));
    },

    recordAuthAttempts(req: { transferId: string; authAttempts: number }) {
      return setAuthAttempts(deps.pool, req.transferId, req.authAttempts);
    },

    recordP2PEvent(req: { transferId: string; slot: 'transfer' | 'status'; eventId?: string; error?: string }) {
      return recordTransferEvent(deps.pool, req.transferId, req.slot, req);
    },
  };
}
