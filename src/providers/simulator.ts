import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  providerCurrency,
  ProviderCallbackRefused,
  ProviderRefused,
  ProviderUnavailable,
  type ExternalAccountType,
  type ProviderAccount,
  type PayoutStatus,
  type ProviderEvent,
  type ProviderPayout,
  type ProviderTopUp,
  type TopUpStatus,
  type WalletProvider,
} from './provider';

/**
 * The wire of the provider simulator (src/dev/providerSimulator.ts): a small JSON API shaped like a
 * card processor's, with callbacks signed `X-Provider-Signature: t=<unix seconds>,v1=<hex
 * HMAC-SHA256 of "<t>.<body>">` under the shared secret.
 */
export const SIMULATOR_SIGNATURE_HEADER = 'x-provider-signature';
/** A callback older (or newer) than this is refused: a captured one cannot be replayed later. */
const CALLBACK_TOLERANCE_SECONDS = 300;

export function simulatorSignature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface SimulatorSettings {
  url: string;
  secret: string;
  timeoutMs?: number;
  now?: () => number;
}

interface WireOperation {
  id: string;
  status: string;
  amount_minor: string;
  currency: string;
  checkout_url?: string;
  failure_reason?: string;
}


/** The adapter of the provider simulator: what `npm start` uses when no provider is configured. */
export function simulatorProvider(settings: SimulatorSettings): WalletProvider {
  const base = settings.url.replace(/\/$/, '');
  const now = settings.now ?? Date.now;

  async function request<T = WireOperation>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${settings.secret}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(settings.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new ProviderUnavailable(`simulator ${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    // A 4xx is a refusal the simulator would repeat; anything else is worth another try.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new ProviderRefused(`simulator ${method} ${path}: answered ${res.status} ${text.slice(0, 200)}`);
    if (!res.ok) throw new ProviderUnavailable(`simulator ${method} ${path}: answered ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }

  const asTopUp = (op: WireOperation): ProviderTopUp => ({
    providerRef: op.id,
    status: op.status as TopUpStatus,
    amountMinor: BigInt(op.amount_minor),
    currency: providerCurrency('the simulator', op.currency),
    ...(op.checkout_url ? { checkoutUrl: op.checkout_url } : {}),
  });
  const asPayout = (op: WireOperation): ProviderPayout => ({
    providerRef: op.id,
    status: op.status as PayoutStatus,
    amountMinor: BigInt(op.amount_minor),
    currency: providerCurrency('the simulator', op.currency),
    ...(op.failure_reason ? { failureReason: op.failure_reason } : {}),
  });

  return {
    name: 'simulator',
    async createTopUp(req) {
      return asTopUp(await request('POST', '/v1/topups', { amount_minor: req.amountMinor.toString(), currency: req.currency, reference: req.reference }, req.idempotencyKey));
    },
    async readTopUp(providerRef) {
      return asTopUp(await request('GET', `/v1/topups/${encodeURIComponent(providerRef)}`));
    },
    async createPayout(req) {
      return asPayout(
        await request('POST', '/v1/payouts', { amount_minor: req.amountMinor.toString(), currency: req.currency, destination: req.destination, reference: req.reference }, req.idempotencyKey),
      );
    },
    async readPayout(providerRef) {
      return asPayout(await request('GET', `/v1/payouts/${encodeURIComponent(providerRef)}`));
    },
    async linkAccount(req): Promise<ProviderAccount> {
      const account = await request<{ id: string; type: ExternalAccountType; label: string }>(
        'POST',
        '/v1/external_accounts',
        { type: req.type, token: req.token, currency: req.currency },
        req.idempotencyKey,
      );
      return { token: account.id, type: account.type, label: account.label };
    },
    async unlinkAccount(token) {
      try {
        await request('DELETE', `/v1/external_accounts/${encodeURIComponent(token)}`);
      } catch (err) {
        if (!(err instanceof ProviderRefused)) throw err;
      }
    },
    verifyCallback(rawBody, headers): ProviderEvent {
      const header = headers[SIMULATOR_SIGNATURE_HEADER] ?? '';
      const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header);
      if (!match) throw new ProviderCallbackRefused('no simulator signature');
      const timestamp = Number(match[1]);
      if (Math.abs(now() / 1000 - timestamp) > CALLBACK_TOLERANCE_SECONDS) throw new ProviderCallbackRefused('the signature is too old or too new');
      const expected = Buffer.from(simulatorSignature(settings.secret, timestamp, rawBody));
      const given = Buffer.from(header);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new ProviderCallbackRefused('the signature does not verify');
      const event = JSON.parse(rawBody) as { id: string; type: string; data: { id: string; status: string; reference?: string } };
      if (event.type.startsWith('topup.')) return { eventId: event.id, kind: 'topup', providerRef: event.data.id, status: event.data.status as TopUpStatus };
      if (event.type.startsWith('payout.')) {
        return { eventId: event.id, kind: 'payout', providerRef: event.data.id, status: event.data.status as PayoutStatus, ...(event.data.reference ? { reference: event.data.reference } : {}) };
      }
      return { eventId: event.id, kind: 'other', type: event.type };
    },
  };
}
