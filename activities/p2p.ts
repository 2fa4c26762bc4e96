import type { Sealer } from '../src/crypto/sealing';
import { recordTransferEvent, setAuthAttempts, transferById } from '../src/db/p2p';
import { DomainError } from '../src/domain/errors';
import { UNKNOWN_SCOPE } from '../src/domain/lockout';
import { formatAmount, type Currency } from '../src/domain/money';
import { biometricMessage, type SealedProof } from '../src/domain/p2p';
import { closeTransfer, finishHeldTransfer, lockedTransfer, settledBefore, settleLockedTransfer, settleTransfer } from '../src/ledger/p2p';
import { checkPaymentProof, openProof, verifyPaymentProof, type ProofDeps } from '../src/factors/proofs';
import { domainFailures } from './failures';

export interface P2PActivityDeps extends ProofDeps {
  proofSealer: Sealer;
}

/** The P2P saga's side effects; each is safe to retry (fixed ledger keys, status changes guarded by the current state). */
export function p2pActivities(deps: P2PActivityDeps) {
  const signedMessage = (req: { transferId: string; amountMinor: string; currency: Currency }) => {
    const amount = formatAmount(BigInt(req.amountMinor), req.currency);
    return (timestamp: string) => biometricMessage(req.transferId, amount, req.currency, timestamp);
  };
  return {
    /**
     * The sender's proof and the settlement it authorizes, in one transaction on the locked
     * transfer (p2pSaga v6): a confirm costs one local activity. A refused proof commits the
     * attempt it counted and is thrown. A settlement refused after a good proof (funds, limits, a
     * wallet's status) runs in a savepoint: it is undone and thrown, and the proof stays spent, as
     * it is when the two run apart. Run again after it committed (a worker lost the workflow task),
     * it answers the settlement and checks nothing.
     */
    proveAndSettleP2P(req: {
      transferId: string;
      userId: string;
      amountMinor: string;
      currency: Currency;
      proof: SealedProof;
      attemptKey: string;
      authAttempts: number;
      acceptanceExpiresAt?: string;
    }) {
      return domainFailures(async () => {
        const outcome = await deps.pool.transaction(async (tx) => {
          const transfer = await lockedTransfer(tx, req.transferId);
          const settled = settledBefore(transfer);
          if (settled) return settled;
          const checked = await checkPaymentProof(tx, deps, {
            userId: req.userId,
            scope: transfer.client_id ?? UNKNOWN_SCOPE,
            proof: openProof(deps.proofSealer, req.transferId, req.proof),
            signedMessage: signedMessage(req),
            attemptKey: req.attemptKey,
          });
          if ('refused' in checked) return checked;
          const settlement = { authMethod: req.proof.method, authAttempts: req.authAttempts, acceptanceExpiresAt: req.acceptanceExpiresAt };
          try {
            return await tx.transaction((savepoint) => settleLockedTransfer(savepoint, transfer, settlement));
          } catch (err) {
            if (err instanceof DomainError) return { refused: err };
            throw err;
          }
        });
        if ('refused' in outcome) throw outcome.refused;
        return outcome;
      });
    },

    verifyP2PProof(req: { transferId: string; userId: string; amountMinor: string; currency: Currency; proof: SealedProof; attemptKey: string }) {
      return domainFailures(async () => {
        // Run again after the transfer was settled (a worker lost the workflow task after the
        // settlement committed): the proof was accepted then, and a one-time code or a timestamp
        // may no longer pass today.
        const transfer = await transferById(deps.pool, req.transferId);
        if (transfer?.confirmed_at && transfer.auth_method === req.proof.method) return { method: req.proof.method };
        return verifyPaymentProof(deps, {
          userId: req.userId,
          scope: transfer?.client_id ?? UNKNOWN_SCOPE,
          proof: openProof(deps.proofSealer, req.transferId, req.proof),
          signedMessage: signedMessage(req),
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
