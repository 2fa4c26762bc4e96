import type { Sealer } from '../src/crypto/sealing';
import { giftById } from '../src/db/gifts';
import type { DatabasePool } from '../src/db/pool';
import { DomainError } from '../src/domain/errors';
import { UNKNOWN_SCOPE } from '../src/domain/lockout';
import { giftProofMessage, type GiftTerms } from '../src/domain/gifts';
import { formatAmount, type Currency } from '../src/domain/money';
import type { SealedProof } from '../src/domain/p2p';
import { closeUnfundedGift, postGiftExpiry, postGiftFunding, postGiftOpening, postGiftOpenings } from '../src/ledger/gifts';
import { openProof, verifyPaymentProof, type ProofDeps } from '../src/factors/proofs';
import { domainFailures } from './failures';

export interface GiftActivityDeps extends ProofDeps {
  pool: DatabasePool;
  proofSealer: Sealer;
}

/** A gift's side effects; each is safe to retry (proofs claimed per attempt, fixed ledger keys, the opening's primary key). */
export function giftActivities(deps: GiftActivityDeps) {
  return {
    /** The sender's payment proof for the gift (P2P's checks and lockouts), then the gift's money into its escrow. */
    fundGift(req: { giftId: string; userId: string; roomId: string; totalMinor: string; currency: Currency; proof: SealedProof }) {
      return domainFailures(async () => {
        // Run again after the funding committed (a worker lost the workflow task): the proof was
        // accepted then, and a signed timestamp may be too old to pass today.
        const gift = await giftById(deps.pool, req.giftId);
        if (!gift) throw new DomainError('NOT_FOUND', 'Gift not found', { gift_id: req.giftId });
        if (gift.status !== 'pending') return;
        const proof = openProof(deps.proofSealer, req.giftId, req.proof);
        // The terms come from the gift's row, as the request fixed them.
        const terms: GiftTerms = {
          roomId: gift.room_id,
          type: gift.type,
          recipient: gift.recipient_user_id ?? undefined,
          count: gift.count,
          distribution: gift.distribution,
          total: formatAmount(gift.total_amount, gift.currency),
          currency: gift.currency,
          idempotencyKey: gift.idempotency_key,
        };
        await verifyPaymentProof(deps, {
          userId: req.userId,
          scope: gift.client_id ?? UNKNOWN_SCOPE,
          proof,
          signedMessage: (timestamp) => giftProofMessage(terms, timestamp),
          attemptKey: `gift:${req.giftId}`,
        });
        await postGiftFunding(deps.pool, req.giftId);
      });
    },

    failGift(req: { giftId: string; reason: string }) {
      return closeUnfundedGift(deps.pool, req.giftId, req.reason);
    },

    /** One opening (the API checked that the opener is a joined member of the room). */
    openGift(req: { giftId: string; roomId: string; userId: string; amountMinor: string; rank: number }) {
      return domainFailures(() => postGiftOpening(deps.pool, req));
    },

    /** The openings that arrived together, in one transaction (gift v3); each opener's refusal comes back beside the others' openings. */
    openGiftBatch(req: { giftId: string; roomId: string; userIds: string[]; shares: string[] }) {
      return domainFailures(() => postGiftOpenings(deps.pool, req));
    },

    expireGift(req: { giftId: string }) {
      return domainFailures(() => postGiftExpiry(deps.pool, req.giftId));
    },
  };
}
