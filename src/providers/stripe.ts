import Stripe from 'stripe';
import {
  providerCurrency,
  ProviderCallbackRefused,
  ProviderRefused,
  ProviderUnavailable,
  type ProviderAccount,
  type PayoutStatus,
  type ProviderEvent,
  type ProviderPayout,
  type ProviderTopUp,
  type TopUpStatus,
  type WalletProvider,
} from './provider';

export interface StripeSettings {
  secretKey: string;
  /** The signing secret of the webhook endpoint that posts to /api/v1/wallet/providers/stripe/callback. */
  webhookSecret: string;
  /** Another API base (stripe-mock in tests); Stripe's own by default. */
  apiUrl?: string;
  /** The Stripe account (acct_...) whose balance pays out and that keeps the linked external accounts. */
  payoutAccount?: string;
  timeoutMs?: number;
}

/** PaymentIntent states to ours: waiting for the user, succeeded, or given up. */
function topUpStatus(status: Stripe.PaymentIntent.Status): TopUpStatus {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'canceled') return 'failed';
  return 'pending';
}

function payoutStatus(status: string): PayoutStatus {
  if (status === 'paid') return 'paid';
  if (status === 'failed' || status === 'canceled') return 'failed';
  return 'pending';
}


/**
 * Stripe through its official SDK: a top-up is a PaymentIntent the user's app confirms with its
 * client secret, a withdrawal a payout to the external account's token. Amounts are minor units on
 * both sides (zero-decimal currencies such as JPY included). The SDK's own retries are off: the
 * saga's activity retries, with the same idempotency key.
 */
export function stripeProvider(settings: StripeSettings): WalletProvider {
  const api = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
  const stripe = new Stripe(settings.secretKey, {
    maxNetworkRetries: 0,
    timeout: settings.timeoutMs ?? 10_000,
    ...(api ? { host: api.hostname, port: Number(api.port || (api.protocol === 'https:' ? 443 : 80)), protocol: api.protocol === 'https:' ? 'https' : 'http' } : {}),
  });

  const payoutAccount = () => {
    if (!settings.payoutAccount) throw new ProviderRefused('Stripe: STRIPE_PAYOUT_ACCOUNT is not configured; external accounts cannot be linked');
    return settings.payoutAccount;
  };
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      // A refusal Stripe will repeat (a bad request, a bad key) is not worth retrying; the rest is.
      if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripeCardError) {
        throw new ProviderRefused(`Stripe ${what}: ${err.message}`);
      }
      throw new ProviderUnavailable(`Stripe ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const asTopUp = (pi: Stripe.PaymentIntent): ProviderTopUp => ({
    providerRef: pi.id,
    status: topUpStatus(pi.status),
    amountMinor: BigInt(pi.amount),
    currency: providerCurrency('Stripe', pi.currency),
    ...(pi.client_secret ? { clientSecret: pi.client_secret } : {}),
  });
  const asPayout = (p: Stripe.Payout): ProviderPayout => ({
    providerRef: p.id,
    status: payoutStatus(p.status),
    amountMinor: BigInt(p.amount),
    currency: providerCurrency('Stripe', p.currency),
    ...(p.failure_message ? { failureReason: p.failure_message } : {}),
  });

  return {
    name: 'stripe',
    async createTopUp(req) {
      const pi = await call('create a PaymentIntent', () =>
        stripe.paymentIntents.create(
          { amount: Number(req.amountMinor), currency: req.currency.toLowerCase(), metadata: { reference: req.reference }, automatic_payment_methods: { enabled: true } },
          { idempotencyKey: req.idempotencyKey },
        ),
      );
      return asTopUp(pi);
    },
    async readTopUp(providerRef) {
      return asTopUp(await call('read a PaymentIntent', () => stripe.paymentIntents.retrieve(providerRef)));
    },
    async createPayout(req) {
      const payout = await call('create a payout', () =>
        stripe.payouts.create(
          { amount: Number(req.amountMinor), currency: req.currency.toLowerCase(), destination: req.destination, metadata: { reference: req.reference } },
          { idempotencyKey: req.idempotencyKey },
        ),
      );
      return asPayout(payout);
    },
    async readPayout(providerRef) {
      return asPayout(await call('read a payout', () => stripe.payouts.retrieve(providerRef)));
    },
    async linkAccount(req): Promise<ProviderAccount> {
      const account = payoutAccount();
      const made = await call('link an external account', () =>
        stripe.accounts.createExternalAccount(account, { external_account: req.token, metadata: { currency: req.currency } }, { idempotencyKey: req.idempotencyKey }),
      );
      const label = made.object === 'card' ? `${made.brand ?? 'Card'} •••• ${made.last4 ?? ''}` : `${made.bank_name ?? 'Bank account'} •••• ${made.last4 ?? ''}`;
      return { token: made.id, type: made.object === 'card' ? 'card' : 'bank_account', label: label.trim() };
    },
    async unlinkAccount(token) {
      try {
        await call('remove an external account', () => stripe.accounts.deleteExternalAccount(payoutAccount(), token));
      } catch (err) {
        if (!(err instanceof ProviderRefused)) throw err;
      }
    },
    verifyCallback(rawBody, headers): ProviderEvent {
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(rawBody, headers['stripe-signature'] ?? '', settings.webhookSecret);
      } catch (err) {
        throw new ProviderCallbackRefused(`not signed by Stripe: ${err instanceof Error ? err.message : String(err)}`);
      }
      const object = event.data.object as { id?: string; status?: string; object?: string; metadata?: Record<string, string> | null };
      if (object.object === 'payment_intent' && object.id) return { eventId: event.id, kind: 'topup', providerRef: object.id, status: topUpStatus(object.status as Stripe.PaymentIntent.Status) };
      if (object.object === 'payout' && object.id) {
        const reference = object.metadata?.reference;
        return { eventId: event.id, kind: 'payout', providerRef: object.id, status: payoutStatus(object.status ?? ''), ...(reference ? { reference } : {}) };
      }
      return { eventId: event.id, kind: 'other', type: event.type };
    },
  };
}
