import type { Config } from '../src/config';
import type { Sealer } from '../src/crypto/sealing';
import { walletBalances } from '../src/db/ledger';
import { deviceOf, hasEstablishedDevice } from '../src/db/mfa';
import { changePaymentStatus, paymentById, recordAuthorizingDevice, recordPaymentEvent, recordRefundEvent, type Payment } from '../src/db/payments';
import { recordWalletCallbackEvent } from '../src/db/walletCallbacks';
import { walletById } from '../src/db/wallets';
import { DomainError } from '../src/domain/errors';
import { UNKNOWN_SCOPE } from '../src/domain/lockout';
import { amountToJson, formatAmount, type Currency } from '../src/domain/money';
import type { SealedProof } from '../src/domain/p2p';
import { authorizationMessage, MFA_METHODS, mfaAttestationMessage, type MfaMethod } from '../src/domain/payments';
import { closeUnpaidPayment, postPayment } from '../src/ledger/payments';
import { availableMethods } from '../src/factors/enrolment';
import { checkSendLimits } from '../src/ledger/limits';
import { openProof, verifyPaymentProof, type ProofDeps } from '../src/factors/proofs';
import { domainFailures } from './failures';

export interface PaymentActivityDeps extends ProofDeps {
  proofSealer: Sealer;
  config: Pick<Config['payments'], 'mfaThresholds' | 'mfaNewDeviceDays'>;
}

/** PROTO-mfa 7.4.4: an attestation's timestamp must be this close to server time. */
const MFA_ATTESTATION_SKEW_MS = 30_000;
const DAY_MS = 86_400_000;

/** The payment's side effects; each is safe to retry (proofs claimed per attempt key, fixed ledger keys, guarded status changes). */
export function paymentActivities(deps: PaymentActivityDeps) {
  /** A device answering the challenge is a second factor only if it is not the one that signed, nor new itself (not a guess: not counted). */
  async function refuseSameFactor(p: Payment | null, deviceId: string): Promise<void> {
    const device = p && (await deviceOf(deps.pool, p.payer_user_id, deviceId));
    const establishedBefore = deps.now().getTime() - deps.config.mfaNewDeviceDays * DAY_MS;
    if (p?.auth_device_id === deviceId || (device && device.registered_at.getTime() > establishedBefore)) {
      throw new DomainError('INVALID_REQUEST', 'credentials.device_id: the second factor must be another factor than the device that signed the payment (a PIN, TOTP, or another device that is not new)', {
        field: 'credentials.device_id',
        reason: p?.auth_device_id === deviceId ? 'same device as the authorization' : 'device registered too recently',
      });
    }
  }

  return {
    /**
     * PROTO 7.3.2: the payer's registered device signed `${payment_id}:${amount}:${currency}:${timestamp}`
     * within 5 minutes, and the signature was not used before. Counts toward the biometric lockout.
     */
    verifyPaymentAuthorization(req: { paymentId: string; userId: string; amountMinor: string; currency: Currency; signature: string; deviceId: string; timestamp: string; attemptKey: string }) {
      return domainFailures(async () => {
        const amount = formatAmount(BigInt(req.amountMinor), req.currency);
        const p = await paymentById(deps.pool, req.paymentId);
        await verifyPaymentProof(deps, {
          userId: req.userId,
          scope: p?.client_id ?? UNKNOWN_SCOPE,
          proof: { method: 'biometric', proof: { signature: req.signature, device_id: req.deviceId, timestamp: req.timestamp } },
          signedMessage: (timestamp) => authorizationMessage(req.paymentId, amount, req.currency, timestamp),
          attemptKey: req.attemptKey,
        });
      });
    },

    /**
     * Funds and limits now (402 INSUFFICIENT_FUNDS with the required amount and the balance), then
     * the MFA policy: the wallet owner's "always" (require_payment_mfa), the currency's threshold, or
     * a device registered within the last PAYMENT_MFA_NEW_DEVICE_DAYS days asks for a second factor;
     * the methods are those the payer set up.
     */
    assessPayment(req: { paymentId: string; deviceId: string }): Promise<{ mfaRequired: boolean; methods: MfaMethod[]; reasons: string[] }> {
      return domainFailures(async () => {
        const p = await paymentById(deps.pool, req.paymentId);
        if (!p) throw new DomainError('NOT_FOUND', 'Payment not found', { payment_id: req.paymentId });
        // Run again after the capture committed (a worker lost the workflow task): the checks passed
        // then, and the capture answers what it recorded; today's balance no longer has the money.
        if (p.status === 'completed') return { mfaRequired: false, methods: [], reasons: [] };
        const wallet = await walletById(deps.pool, p.payer_wallet_id);
        if (!wallet || wallet.status !== 'active') throw new DomainError('WALLET_SUSPENDED', 'Your wallet is not active', { wallet_id: p.payer_wallet_id });
        const { available } = await walletBalances(deps.pool, p.payer_wallet_id, p.currency);
        if (available < p.amount) {
          throw new DomainError('INSUFFICIENT_FUNDS', 'Your balance does not cover this payment', {
            required_amount: amountToJson(p.amount, p.currency),
            available_balance: amountToJson(available, p.currency),
            currency: p.currency,
          });
        }
        await checkSendLimits(deps.pool, wallet, p.amount);
        const reasons: string[] = wallet.require_payment_mfa ? ['wallet_policy'] : [];
        const threshold = deps.config.mfaThresholds[p.currency];
        if (threshold !== undefined && p.amount >= threshold) reasons.push('amount');
        const device = await deviceOf(deps.pool, p.payer_user_id, req.deviceId);
        const establishedBefore = new Date(deps.now().getTime() - deps.config.mfaNewDeviceDays * DAY_MS);
        if (device && device.registered_at > establishedBefore) reasons.push('new_device');
        if (reasons.length === 0) return { mfaRequired: false, methods: [], reasons };
        // The second factor is a different factor from the device that signed: a PIN, TOTP, or
        // another device that is not itself inside the new-device window.
        const enrolled = await availableMethods(deps.pool, p.payer_user_id);
        const anotherDevice = await hasEstablishedDevice(deps.pool, p.payer_user_id, req.deviceId, establishedBefore);
        const methods = (Object.keys(MFA_METHODS) as MfaMethod[]).filter((m) => (m === 'biometric' ? anotherDevice : enrolled.includes(MFA_METHODS[m])));
        if (methods.length === 0) {
          throw new DomainError('MFA_REQUIRED', 'This payment needs a second factor besides the device that signed it: set up a PIN or TOTP in your messenger', {
            reasons,
            setup: ['POST /api/v1/wallet/pin', 'POST /api/v1/wallet/totp/enroll'],
          });
        }
        await recordAuthorizingDevice(deps.pool, p.id, req.deviceId);
        return { mfaRequired: true, methods, reasons };
      });
    },

    /** PROTO-mfa 7.4.3: one answer to the payment's challenge, with the P2P factors' checks and lockouts. */
    verifyPaymentMfa(req: { paymentId: string; userId: string; challengeId: string; proof: SealedProof; attemptKey: string }) {
      return domainFailures(async () => {
        const proof = openProof(deps.proofSealer, req.paymentId, req.proof);
        const p = await paymentById(deps.pool, req.paymentId);
        if (proof.method === 'biometric') await refuseSameFactor(p, proof.proof.device_id);
        await verifyPaymentProof(deps, {
          userId: req.userId,
          scope: p?.client_id ?? UNKNOWN_SCOPE,
          proof,
          signedMessage: (timestamp) => mfaAttestationMessage(req.paymentId, req.challengeId, timestamp),
          attemptKey: req.attemptKey,
          maxSkewMs: MFA_ATTESTATION_SKEW_MS,
        });
      });
    },

    /** The payer signed; a second factor is asked for (the row follows the workflow). */
    async markPaymentMfaRequired(req: { paymentId: string }): Promise<void> {
      await changePaymentStatus(deps.pool, req.paymentId, { status: 'mfa_required', from: ['pending_authorization'], authorized: true });
    },

    settlePayment(req: { paymentId: string; authMethod: string }) {
      return domainFailures(() => postPayment(deps.pool, req));
    },

    closePayment(req: { paymentId: string; status: 'failed' | 'expired' | 'cancelled'; code: string; message: string }) {
      return domainFailures(() => closeUnpaidPayment(deps.pool, req));
    },

    recordWalletCallbackEvent(req: { provider?: string; transactionId: string; eventId?: string; error?: string }) {
      // Events started before the provider was part of the key carry their id in transactionId alone.
      const [provider, transactionId] = req.provider ? [req.provider, req.transactionId] : req.transactionId.split(/\/(.*)/s) as [string, string];
      return recordWalletCallbackEvent(deps.pool, provider, transactionId, req);
    },

    recordRefundEvent(req: { refundId: string; eventId?: string; error?: string }) {
      return recordRefundEvent(deps.pool, req.refundId, req);
    },

    recordPaymentEvent(req: { paymentId: string; eventId?: string; error?: string }) {
      return recordPaymentEvent(deps.pool, req.paymentId, req);
    },
  };
}
