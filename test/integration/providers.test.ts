import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { startProviderSimulator, type ProviderSimulator } from '../../src/dev/providerSimulator';
import { ProviderCallbackRefused, ProviderRefused, ProviderUnavailable, type WalletProvider } from '../../src/providers/provider';
import { simulatorProvider, simulatorSignature, SIMULATOR_SIGNATURE_HEADER } from '../../src/providers/simulator';
import { stripeProvider } from '../../src/providers/stripe';
import { eventually } from '../helpers/eventually';
import { startStripeMock } from '../helpers/stripeMock';

/** The wallet-provider adapters: Stripe's against stripe-mock, the simulator's against the simulator, with its faults. */

describe('Stripe, against stripe-mock', () => {
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  let proxy: Server;
  /** What reached Stripe: method, path and Idempotency-Key of each request. */
  const seen: { method: string; path: string; idempotencyKey?: string }[] = [];
  let stripe: WalletProvider;
  const webhookSecret = 'whsec_test_secret';

  beforeAll(async () => {
    mock = await startStripeMock();
    // A recording proxy in front of stripe-mock, which does not echo the headers it was sent.
    const target = new URL(mock.url);
    proxy = createServer((req, res) => {
      seen.push({ method: req.method!, path: req.url!, idempotencyKey: req.headers['idempotency-key'] as string | undefined });
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    stripe = stripeProvider({ secretKey: 'sk_test_123', webhookSecret, apiUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, payoutAccount: 'acct_payouts' });
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    await mock?.stop();
  });

  test('a top-up is a PaymentIntent created with the operation idempotency key, and read back', async () => {
    const topUp = await stripe.createTopUp({ idempotencyKey: 'topup-key-1', amountMinor: 2500n, currency: 'USD', reference: 'topup_abc' });
    expect(topUp).toMatchObject({ providerRef: expect.stringMatching(/^pi_/), amountMinor: 2500n, currency: 'USD', status: 'pending', clientSecret: expect.any(String) });
    expect(seen.find((r) => r.method === 'POST' && r.path === '/v1/payment_intents')?.idempotencyKey).toBe('topup-key-1');
    const read = await stripe.readTopUp(topUp.providerRef);
    expect(read.providerRef).toBe(topUp.providerRef);
    expect(['pending', 'succeeded', 'failed']).toContain(read.status);
  });

  test('a withdrawal is a payout created with the operation idempotency key, in the currency minor units', async () => {
    const payout = await stripe.createPayout({ idempotencyKey: 'payout-key-1', amountMinor: 1500n, currency: 'JPY', destination: 'ba_123', reference: 'wd_abc' });
    expect(payout).toMatchObject({ providerRef: expect.stringMatching(/^po_/), amountMinor: 1500n, currency: 'JPY' });
    expect(seen.find((r) => r.method === 'POST' && r.path === '/v1/payouts')?.idempotencyKey).toBe('payout-key-1');
    expect((await stripe.readPayout(payout.providerRef)).providerRef).toBe(payout.providerRef);
  });

  test('an external account is linked from its Stripe.js token on the payout account, with the idempotency key; only its id and a masked label come back', async () => {
    const linked = await stripe.linkAccount({ idempotencyKey: 'link-key-1', type: 'bank_account', token: 'btok_us_verified', currency: 'USD' });
    expect(linked.token).toMatch(/^(ba|card)_/);
    expect(linked.label).toMatch(/•••• \d{4}$/);
    expect(seen.find((r) => r.method === 'POST' && r.path === '/v1/accounts/acct_payouts/external_accounts')?.idempotencyKey).toBe('link-key-1');
    await stripe.unlinkAccount(linked.token);
    expect(seen.some((r) => r.method === 'DELETE' && r.path === `/v1/accounts/acct_payouts/external_accounts/${linked.token}`)).toBe(true);
    const unconfigured = stripeProvider({ secretKey: 'sk_test_123', webhookSecret, apiUrl: mock.url });
    await expect(unconfigured.linkAccount({ idempotencyKey: 'k', type: 'bank_account', token: 'btok_x', currency: 'USD' })).rejects.toBeInstanceOf(ProviderRefused);
  });

  test('a refusal Stripe would repeat is not turned into a retryable one', async () => {
    await expect(stripe.readTopUp('not an id/../x')).rejects.toBeInstanceOf(ProviderRefused);
  });

  test('a callback verifies only with the webhook secret over the exact body', () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', object: 'payment_intent', status: 'succeeded' } } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: webhookSecret });
    expect(stripe.verifyCallback(body, { 'stripe-signature': header })).toEqual({ eventId: 'evt_1', kind: 'topup', providerRef: 'pi_1', status: 'succeeded' });
    expect(() => stripe.verifyCallback(body.replace('succeeded"}', 'canceled"}'), { 'stripe-signature': header })).toThrow(ProviderCallbackRefused);
    const forged = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else' });
    expect(() => stripe.verifyCallback(body, { 'stripe-signature': forged })).toThrow(ProviderCallbackRefused);
    expect(() => stripe.verifyCallback(body, {})).toThrow(ProviderCallbackRefused);
  });

  test("a payout's callback carries the reference it was created with, so a payout whose answer was lost is still found", () => {
    const body = JSON.stringify({ id: 'evt_2', object: 'event', type: 'payout.paid', data: { object: { id: 'po_1', object: 'payout', status: 'paid', metadata: { reference: 'wd_abc' } } } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: webhookSecret });
    expect(stripe.verifyCallback(body, { 'stripe-signature': header })).toEqual({ eventId: 'evt_2', kind: 'payout', providerRef: 'po_1', status: 'paid', reference: 'wd_abc' });
  });
});

describe('the provider simulator', () => {
  let sim: ProviderSimulator;
  let receiver: Server;
  const received: { body: string; signature?: string }[] = [];
  let provider: WalletProvider;
  /** A linked external account: payouts go only to one. */
  let destination: string;
  const secret = 'simulator-test-secret';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, signature: req.headers[SIMULATOR_SIGNATURE_HEADER] as string | undefined });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    sim = await startProviderSimulator({ secret, callbackUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callback` });
    provider = simulatorProvider({ url: sim.url, secret, timeoutMs: 500 });
    destination = (await provider.linkAccount({ idempotencyKey: 'link-1', type: 'bank_account', token: 'tok_sim_11112222', currency: 'USD' })).token;
  });
  afterAll(async () => {
    await sim?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const callbacksFor = (ref: string) => received.filter((c) => c.body.includes(ref));

  test('one operation per idempotency key; paying it sends one signed callback that the adapter verifies', async () => {
    const first = await provider.createTopUp({ idempotencyKey: 'k-1', amountMinor: 1000n, currency: 'USD', reference: 'topup_1' });
    const again = await provider.createTopUp({ idempotencyKey: 'k-1', amountMinor: 1000n, currency: 'USD', reference: 'topup_1' });
    expect(again.providerRef).toBe(first.providerRef);
    expect(first).toMatchObject({ status: 'pending', amountMinor: 1000n, currency: 'USD', checkoutUrl: `${sim.url}/checkout/${first.providerRef}` });
    // The user pays on the checkout page (no merchant secret there).
    expect((await fetch(`${sim.url}/v1/topups/${first.providerRef}/pay`, { method: 'POST' })).status).toBe(200);
    const [callback] = await eventually(async () => callbacksFor(first.providerRef), (c) => c.length === 1);
    expect(provider.verifyCallback(callback!.body, { [SIMULATOR_SIGNATURE_HEADER]: callback!.signature })).toMatchObject({ kind: 'topup', providerRef: first.providerRef, status: 'succeeded' });
    expect((await provider.readTopUp(first.providerRef)).status).toBe('succeeded');
  });

  test('links an account once per idempotency key, with a label of the last four; pays out only to a linked account', async () => {
    const again = await provider.linkAccount({ idempotencyKey: 'link-1', type: 'bank_account', token: 'tok_sim_11112222', currency: 'USD' });
    expect(again).toEqual({ token: destination, type: 'bank_account', label: 'Simulated Bank •••• 2222' });
    await expect(provider.linkAccount({ idempotencyKey: 'link-bad', type: 'card', token: 'tok_other', currency: 'USD' })).rejects.toBeInstanceOf(ProviderRefused);
    await expect(provider.createPayout({ idempotencyKey: 'po-nowhere', amountMinor: 5n, currency: 'USD', destination: 'sim_ba_unknown', reference: 'wd_nowhere' })).rejects.toBeInstanceOf(ProviderRefused);
    const removed = await provider.linkAccount({ idempotencyKey: 'link-2', type: 'card', token: 'tok_sim_33334444', currency: 'USD' });
    await provider.unlinkAccount(removed.token);
    await provider.unlinkAccount(removed.token);
    await expect(provider.createPayout({ idempotencyKey: 'po-removed', amountMinor: 5n, currency: 'USD', destination: removed.token, reference: 'wd_removed' })).rejects.toBeInstanceOf(ProviderRefused);
  });

  test('a callback with a wrong, old or missing signature is refused', () => {
    const body = JSON.stringify({ id: 'evt_x', type: 'topup.succeeded', data: { id: 'sim_top_x', status: 'succeeded' } });
    const now = Math.floor(Date.now() / 1000);
    expect(() => provider.verifyCallback(body, { [SIMULATOR_SIGNATURE_HEADER]: simulatorSignature('other', now, body) })).toThrow(ProviderCallbackRefused);
    expect(() => provider.verifyCallback(body, { [SIMULATOR_SIGNATURE_HEADER]: simulatorSignature(secret, now - 3600, body) })).toThrow(ProviderCallbackRefused);
    expect(() => provider.verifyCallback(body, {})).toThrow(ProviderCallbackRefused);
    expect(provider.verifyCallback(body, { [SIMULATOR_SIGNATURE_HEADER]: simulatorSignature(secret, now, body) })).toMatchObject({ eventId: 'evt_x' });
  });

  test('a timeout loses the answer, not the work: the retry with the same key finds the same payout', async () => {
    sim.inject('timeout', 1, 1500);
    const req = { idempotencyKey: 'payout-timeout', amountMinor: 700n, currency: 'USD' as const, destination, reference: 'wd_1' };
    await expect(provider.createPayout(req)).rejects.toBeInstanceOf(ProviderUnavailable);
    const made = [...sim.operations.values()].filter((o) => o.reference === 'wd_1');
    expect(made).toHaveLength(1);
    expect((await provider.createPayout(req)).providerRef).toBe(made[0]!.id);
  });

  test('an injected failure does nothing; duplicate and late callbacks arrive as told', async () => {
    sim.inject('fail');
    await expect(provider.createPayout({ idempotencyKey: 'payout-fail', amountMinor: 5n, currency: 'USD', destination, reference: 'wd_fail' })).rejects.toBeInstanceOf(ProviderUnavailable);
    expect([...sim.operations.values()].filter((o) => o.reference === 'wd_fail')).toHaveLength(0);

    const payout = await provider.createPayout({ idempotencyKey: 'payout-dup', amountMinor: 9n, currency: 'USD', destination, reference: 'wd_dup' });
    sim.inject('duplicate');
    sim.inject('late', 1, 800);
    const settledAt = Date.now();
    await fetch(`${sim.url}/v1/payouts/${payout.providerRef}/settle`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: '{"status":"paid"}' });
    const copies = await eventually(async () => callbacksFor(payout.providerRef), (c) => c.length === 2, 5000);
    expect(Date.now() - settledAt).toBeGreaterThanOrEqual(750);
    expect(copies).toHaveLength(2);
    const events = copies.map((c) => provider.verifyCallback(c.body, { [SIMULATOR_SIGNATURE_HEADER]: c.signature }));
    expect(events[0]).toEqual(events[1]);
    expect(events[0]).toMatchObject({ kind: 'payout', status: 'paid', reference: 'wd_dup' });
  });
});
