import { createPrivateKey, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { biometricMessage } from '../../../src/domain/p2p';
import type { HttpAnswer, HttpClient } from './httpClient';
import type { ErrorSample, P2PClientPlan, ProofMaterial } from './plan';

export interface TransferOutcome {
  /** The confirm answered status `completed`: the money moved. */
  settled: boolean;
  /** Initiate answered a transfer id but confirm did not answer `completed` (the transfer waits, or its fate is unknown). */
  unconfirmed: boolean;
  confirmMs?: number;
  failure?: ErrorSample;
}

export const failure = (step: string, answer: HttpAnswer): ErrorSample => ({ step, status: answer.status, body: answer.body.slice(0, 300) });

/**
 * The `auth_proof` a client's device or messenger sends for a transfer (PROTO 7.2.4): a device
 * signature over `<transfer_id>:<amount>:<currency>:<timestamp>` (amount with the currency's
 * decimals, as sent to initiate), or the PIN's digest.
 */
export function prover(proof: ProofMaterial): (transferId: string, amount: string, currency: string) => object {
  if (proof.method === 'pin') {
    const body = { auth_proof: { method: 'pin', proof: { hashed_pin: proof.hashedPin, device_id: proof.deviceId } } };
    return () => body;
  }
  const key = createPrivateKey(proof.privateKeyPem);
  return (transferId, amount, currency) => {
    const timestamp = new Date().toISOString();
    const signature = sign('sha256', Buffer.from(biometricMessage(transferId, amount, currency, timestamp)), { key, dsaEncoding: 'ieee-p1363' });
    return { auth_proof: { method: 'biometric', proof: { signature: signature.toString('base64'), device_id: proof.deviceId, timestamp } } };
  };
}

/** One P2P transfer from start to settlement: initiate, then confirm with the client's proof. */
export async function settleTransfer(
  http: HttpClient,
  client: P2PClientPlan,
  prove: ReturnType<typeof prover>,
  transfer: { amount: string; currency: string; idempotencyKey: string },
): Promise<TransferOutcome> {
  const started = await http.request('POST', '/api/v1/wallet/p2p/initiate', {
    token: client.senderToken,
    json: { recipient: client.recipientUserId, amount: transfer.amount, currency: transfer.currency, idempotency_key: transfer.idempotencyKey },
  });
  if (started.status !== 201) return { settled: false, unconfirmed: false, failure: failure('initiate', started) };
  const transferId = (JSON.parse(started.body) as { transfer_id: string }).transfer_id;
  const body = prove(transferId, transfer.amount, transfer.currency);
  const confirmStart = performance.now();
  let done: HttpAnswer;
  try {
    done = await http.request('POST', `/api/v1/wallet/p2p/${transferId}/confirm`, { token: client.senderToken, json: body });
  } catch (err) {
    return { settled: false, unconfirmed: true, failure: { step: 'confirm', status: 0, body: err instanceof Error ? err.message : String(err) } };
  }
  const confirmMs = performance.now() - confirmStart;
  if (done.status !== 200 || (JSON.parse(done.body) as { status?: string }).status !== 'completed') {
    return { settled: false, unconfirmed: true, failure: failure('confirm', done) };
  }
  return { settled: true, unconfirmed: false, confirmMs };
}
