import type { Sealer } from '../src/crypto/sealing';
import { recordTransferEvent, setAuthAttempts, transferById } from '../src/db/p2p';
import { UNKNOWN_SCOPE } from '../src/domain/lockout';
import { formatAmount, type Currency } from '../src/domain/money';
import { biometricMessage, type SealedProof } from '../src/domain/p2p';
import { closeTransfer, finishHeldTransfer, settleTransfer } from '../src/ledger/p2p';
import { openProof, verifyPaymentProof, type ProofDeps } from '../src/factors/proofs';
import { domainFailures } from './failures';

export interface P2PActivityDeps extends ProofDeps {
  proofSealer: Sealer;
}

/** The P2P saga's side effects; each is safe to retry (fixed ledger keys, status changes guarded by the current state). */
export function p2pActivities(deps: P2PActivityDeps) {
  return {
    verifyP2PProof(req: { transferId: string; userId: string; amountMinor: string; currency: Currency; proof: SealedProof; attemptKey: string }) {
      return domainFailures(async () => {
        // Run again after the transfer was settled (a worker lost the workflow task after the
        // settlement committed): the proof was accepted then, and a one-time code or a timestamp
        // may no longer pass today.
        const transfer = await transferById(deps.pool, req.transferId);
        if (transfer?.confirmed_at && transfer.auth_method === req.proof.method) return { method: req.proof.method };
        const proof = openProof(deps.proofSealer, req.transferId, req.proof);
        const amount = formatAmount(BigInt(req.amountMinor), req.currency);
        return verifyPaymentProof(deps, {
          userId: req.userId,
          scope: transfer?.client_id ?? UNKNOWN_SCOPE,
          proof,
          signedMessage: (timestamp) => biometricMessage(req.transferId, amount, req.currency, timestamp),
          attemptKey: req.attemptKey,
        });
      });
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
