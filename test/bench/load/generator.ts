import { createPrivateKey, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { withdrawalProofMessage } from '../../../src/domain/withdrawals';
import { httpClient, type HttpClient } from './httpClient';
import type { ErrorSample, GeneratorPlan, GeneratorResult, P2PClientPlan } from './plan';
import { clockTicksPerSecond, cpuDelta, cpuSnapshot } from './processes';
import { startFloor } from './floor';
import { summarize } from './stats';
import { failure, prover, settleTransfer } from './transfer';

/**
 * One load generator process: reads a GeneratorPlan on stdin, runs its closed-loop clients through
 * the warm-up and the timed window, lets operations in flight finish, and prints a GeneratorResult
 * as JSON on stdout. run.ts starts one per scenario (`node --import tsx test/bench/load/generator.ts`).
 */

/** After the window each client finishes its current operation: at most two requests of 30 s. */
const DRAIN_TIMEOUT_MS = 65_000;
const ERROR_SAMPLES = 5;

interface Outcome {
  ok: boolean;
  error?: ErrorSample;
  confirmMs?: number;
}

/** Counts what finishes inside the window; keeps the first few distinct failures from any phase. */
class Recorder {
  windowStart = Number.POSITIVE_INFINITY;
  windowEnd = Number.POSITIVE_INFINITY;
  ops = 0;
  errors = 0;
  errorsOutsideWindow = 0;
  readonly latencies: number[] = [];
  readonly confirmLatencies: number[] = [];
  readonly samples: ErrorSample[] = [];
  private readonly seen = new Set<string>();

  record(start: number, end: number, outcome: Outcome): void {
    if (outcome.error) this.keepSample(outcome.error);
    if (end < this.windowStart || end > this.windowEnd) {
      if (!outcome.ok) this.errorsOutsideWindow += 1;
      return;
    }
    if (!outcome.ok) {
      this.errors += 1;
      return;
    }
    this.ops += 1;
    this.latencies.push(end - start);
    if (outcome.confirmMs !== undefined) this.confirmLatencies.push(outcome.confirmMs);
  }

  private keepSample(sample: ErrorSample): void {
    // Ids and timestamps differ between otherwise equal errors: compare without them.
    const key = `${sample.step} ${sample.status} ${sample.body.replace(/"(request_id|timestamp|transfer_id)":"[^"]*"/g, '')}`;
    if (this.samples.length >= ERROR_SAMPLES || this.seen.has(key)) return;
    this.seen.add(key);
    this.samples.push(sample);
  }
}

/** One operation is one settled transfer; each client counts what it settled over the whole run. */
function p2pOperation(plan: GeneratorPlan, http: HttpClient, clients: P2PClientPlan[], amount: string, currency: string) {
  const provers = clients.map((c) => prover(c.proof));
  const sequence = clients.map(() => 0);
  const settled = clients.map(() => 0);
  let unconfirmed = 0;
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const idempotencyKey = `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}`;
    const outcome = await settleTransfer(http, clients[i]!, provers[i]!, { amount, currency, idempotencyKey });
    if (outcome.settled) settled[i]! += 1;
    if (outcome.unconfirmed) unconfirmed += 1;
    return { ok: outcome.settled, error: outcome.failure, confirmMs: outcome.confirmMs };
  };
  return { operation, settled, unconfirmed: () => unconfirmed };
}

function getOperation(http: HttpClient, path: string, tokens: string[]) {
  return async (i: number): Promise<Outcome> => {
    const answer = await http.request('GET', path, { token: tokens.length > 0 ? tokens[i % tokens.length] : undefined });
    return answer.status === 200 ? { ok: true } : { ok: false, error: failure(`GET ${path}`, answer) };
  };
}

function putOperation(http: HttpClient, path: string, tokens: string[], json: unknown) {
  return async (i: number): Promise<Outcome> => {
    const answer = await http.request('PUT', path, { token: tokens[i % tokens.length], json });
    return answer.status === 200 ? { ok: true } : { ok: false, error: failure(`PUT ${path}`, answer) };
  };
}

function formOperation(http: HttpClient, path: string, form: Record<string, string>) {
  return async (): Promise<Outcome> => {
    const answer = await http.request('POST', path, { form });
    return answer.status === 200 ? { ok: true } : { ok: false, error: failure(`POST ${path}`, answer) };
  };
}

/** Each client presents its current refresh token and keeps the new one the answer rotates it to. */
function refreshOperation(http: HttpClient, clientId: string, tokens: string[]) {
  const current = [...tokens];
  return async (i: number): Promise<Outcome> => {
    const answer = await http.request('POST', '/api/v1/oauth/token', { form: { grant_type: 'refresh_token', client_id: clientId, refresh_token: current[i]! } });
    if (answer.status !== 200) return { ok: false, error: failure('refresh', answer) };
    current[i] = (JSON.parse(answer.body) as { refresh_token: string }).refresh_token;
    return { ok: true };
  };
}

/** One operation is one completed payment: request, then authorize with the payer's device signature. */
function paymentOperation(plan: GeneratorPlan, http: HttpClient, clients: { token: string; deviceId: string; privateKeyPem: string }[], amount: string, currency: string) {
  const keys = clients.map((c) => createPrivateKey(c.privateKeyPem));
  const sequence = clients.map(() => 0);
  const completed = clients.map(() => 0);
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const client = clients[i]!;
    const asked = await http.request('POST', '/api/v1/payments/request', {
      token: client.token,
      json: { amount, currency, description: 'bench', idempotency_key: `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}` },
    });
    if (asked.status !== 201) return { ok: false, error: failure('request', asked) };
    const paymentId = (JSON.parse(asked.body) as { payment_id: string }).payment_id;
    const timestamp = new Date().toISOString();
    const signature = sign('sha256', Buffer.from(`${paymentId}:${amount}:${currency}:${timestamp}`), { key: keys[i]!, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const authorizeStart = performance.now();
    const done = await http.request('POST', `/api/v1/payments/${paymentId}/authorize`, { token: client.token, json: { signature, device_id: client.deviceId, timestamp } });
    const confirmMs = performance.now() - authorizeStart;
    if (done.status !== 200 || (JSON.parse(done.body) as { status?: string }).status !== 'completed') return { ok: false, error: failure('authorize', done) };
    completed[i]! += 1;
    return { ok: true, confirmMs };
  };
  return { operation, settled: completed };
}

/** One operation is one payment requested and cancelled by its payer (the cancel is the Update timed as confirmMs). */
function paymentCancelOperation(plan: GeneratorPlan, http: HttpClient, workload: Extract<GeneratorPlan['workload'], { kind: 'payment-cancel' }>) {
  const sequence = workload.clients.map(() => 0);
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const client = workload.clients[i]!;
    const asked = await http.request('POST', '/api/v1/payments/request', {
      token: client.token,
      json: { amount: workload.amount, currency: workload.currency, description: 'bench', idempotency_key: `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}` },
    });
    if (asked.status !== 201) return { ok: false, error: failure('request', asked) };
    const paymentId = (JSON.parse(asked.body) as { payment_id: string }).payment_id;
    const cancelStart = performance.now();
    const done = await http.request('POST', `/api/v1/payments/${paymentId}/cancel`, { token: client.token, json: {} });
    const confirmMs = performance.now() - cancelStart;
    if (done.status !== 200 || (JSON.parse(done.body) as { status?: string }).status !== 'cancelled') return { ok: false, error: failure('cancel', done) };
    return { ok: true, confirmMs };
  };
  // Nothing moves: no balance to settle.
  return { operation, settled: workload.clients.map(() => 0) };
}

/** One operation is one gift given and taken: create (a one-share gift, device-signed), then open by the client's opener. */
function giftOperation(plan: GeneratorPlan, http: HttpClient, workload: Extract<GeneratorPlan['workload'], { kind: 'gift' }>) {
  const keys = workload.clients.map((c) => createPrivateKey(c.privateKeyPem));
  const sequence = workload.clients.map(() => 0);
  const taken = workload.clients.map(() => 0);
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const client = workload.clients[i]!;
    const timestamp = new Date().toISOString();
    const idempotencyKey = `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}`;
    const message = ['gift:v2', workload.roomId, 'group', '1', 'random', workload.amount, workload.currency, idempotencyKey, timestamp].join('\n');
    const signature = sign('sha256', Buffer.from(message), { key: keys[i]!, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const created = await http.request('POST', '/api/v1/wallet/gift/create', {
      token: client.senderToken,
      json: {
        type: 'group', room_id: workload.roomId, total_amount: workload.amount, currency: workload.currency, count: 1,
        idempotency_key: idempotencyKey,
        auth_proof: { method: 'biometric', proof: { signature, device_id: client.deviceId, timestamp } },
      },
    });
    if (created.status !== 201) return { ok: false, error: failure('create', created) };
    const giftId = (JSON.parse(created.body) as { gift_id: string }).gift_id;
    const openStart = performance.now();
    const opened = await http.request('POST', `/api/v1/wallet/gift/${giftId}/open`, { token: client.openerToken, json: {} });
    if (opened.status !== 200) return { ok: false, error: failure('open', opened) };
    taken[i]! += 1;
    return { ok: true, confirmMs: performance.now() - openStart };
  };
  return { operation, settled: taken };
}

/**
 * One operation is one top-up credited: request it, pay at the provider simulator's checkout (the
 * simulator calls the API back), then read the top-up until the saga has credited it.
 */
function topUpOperation(plan: GeneratorPlan, http: HttpClient, workload: Extract<GeneratorPlan['workload'], { kind: 'topup' }>) {
  const sequence = workload.clients.map(() => 0);
  const credited = workload.clients.map(() => 0);
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const { token } = workload.clients[i]!;
    const asked = await http.request('POST', '/api/v1/wallet/topup', {
      token,
      json: { amount: workload.amount, currency: workload.currency, idempotency_key: `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}` },
    });
    if (asked.status !== 201) return { ok: false, error: failure('topup', asked) };
    const { topup_id: topUpId, checkout_url: checkoutUrl } = JSON.parse(asked.body) as { topup_id: string; checkout_url: string };
    const checkout = new URL(checkoutUrl);
    const payStart = performance.now();
    const paid = await fetch(`${checkout.origin}/v1/topups/${checkout.pathname.split('/').pop()}/pay`, { method: 'POST' });
    if (paid.status !== 200) return { ok: false, error: { step: 'pay', status: paid.status, body: await paid.text() } };
    for (let waited = 0; waited < 30_000; waited += 10) {
      const read = await http.request('GET', `/api/v1/wallet/topup/${topUpId}`, { token });
      const status = read.status === 200 ? (JSON.parse(read.body) as { status: string }).status : 'error';
      if (status === 'succeeded') {
        credited[i]! += 1;
        return { ok: true, confirmMs: performance.now() - payStart };
      }
      if (status !== 'pending') return { ok: false, error: failure('read', read) };
      await sleep(10);
    }
    return { ok: false, error: { step: 'read', status: 0, body: 'not credited within 30 s' } };
  };
  return { operation, settled: credited };
}

/**
 * One operation is one withdrawal paid out: the messenger withdraws with a device signature, the
 * simulator pays the payout at once and calls back, and the client reads until it is completed.
 */
function withdrawalOperation(plan: GeneratorPlan, http: HttpClient, workload: Extract<GeneratorPlan['workload'], { kind: 'withdrawal' }>) {
  const keys = workload.clients.map((c) => createPrivateKey(c.privateKeyPem));
  const sequence = workload.clients.map(() => 0);
  const paidOut = workload.clients.map(() => 0);
  const operation = async (i: number): Promise<Outcome> => {
    sequence[i]! += 1;
    const client = workload.clients[i]!;
    const timestamp = new Date().toISOString();
    const idempotencyKey = `bench-${plan.runId}-${plan.scenario}-${i}-${sequence[i]}`;
    const message = withdrawalProofMessage({ externalAccountId: client.externalAccountId, amount: workload.amount, currency: workload.currency, idempotencyKey }, timestamp);
    const signature = sign('sha256', Buffer.from(message), { key: keys[i]!, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const asked = await http.request('POST', '/api/v1/wallet/withdraw', {
      token: client.messengerToken,
      json: {
        amount: workload.amount, currency: workload.currency, external_account_id: client.externalAccountId, idempotency_key: idempotencyKey,
        auth_proof: { method: 'biometric', proof: { signature, device_id: client.deviceId, timestamp } },
      },
    });
    if (asked.status !== 201) return { ok: false, error: failure('withdraw', asked) };
    const withdrawalId = (JSON.parse(asked.body) as { withdrawal_id: string }).withdrawal_id;
    const heldAt = performance.now();
    for (let waited = 0; waited < 30_000; waited += 10) {
      const read = await http.request('GET', `/api/v1/wallet/withdrawals/${withdrawalId}`, { token: client.messengerToken });
      const status = read.status === 200 ? (JSON.parse(read.body) as { status: string }).status : 'error';
      if (status === 'completed') {
        paidOut[i]! += 1;
        return { ok: true, confirmMs: performance.now() - heldAt };
      }
      if (status !== 'processing') return { ok: false, error: failure('read', read) };
      await sleep(10);
    }
    return { ok: false, error: { step: 'read', status: 0, body: 'not paid out within 30 s' } };
  };
  return { operation, settled: paidOut };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const plan = JSON.parse(await readStdin()) as GeneratorPlan;
  const { workload } = plan;
  const clients = workload.kind === 'floor' ? workload.clients : workload.kind === 'p2p' || workload.kind === 'payment' || workload.kind === 'payment-cancel' || workload.kind === 'gift' || workload.kind === 'topup' || workload.kind === 'withdrawal' ? workload.clients.length : workload.kind === 'refresh' ? workload.refreshTokens.length : workload.connections;
  const http = httpClient(plan.baseUrl, clients);
  const p2p = workload.kind === 'p2p' ? p2pOperation(plan, http, workload.clients, workload.amount, workload.currency) : undefined;
  const payments =
    workload.kind === 'payment'
      ? paymentOperation(plan, http, workload.clients, workload.amount, workload.currency)
      : workload.kind === 'payment-cancel'
        ? paymentCancelOperation(plan, http, workload)
      : workload.kind === 'gift'
        ? giftOperation(plan, http, workload)
        : workload.kind === 'topup'
          ? topUpOperation(plan, http, workload)
          : workload.kind === 'withdrawal'
            ? withdrawalOperation(plan, http, workload)
            : undefined;
  // The floor's client and worker run in this process: its CPU column is theirs.
  const floor = workload.kind === 'floor' ? await startFloor(workload.temporalAddress, `bench-${plan.runId}`) : undefined;
  const operation =
    floor
      ? floor.operation
      : workload.kind === 'get'
      ? getOperation(http, workload.path, workload.tokens)
      : workload.kind === 'put'
        ? putOperation(http, workload.path, workload.tokens, workload.json)
        : workload.kind === 'form'
        ? formOperation(http, workload.path, workload.form)
        : workload.kind === 'refresh'
          ? refreshOperation(http, workload.clientId, workload.refreshTokens)
          : workload.kind === 'payment' || workload.kind === 'payment-cancel' || workload.kind === 'gift' || workload.kind === 'topup' || workload.kind === 'withdrawal'
            ? payments!.operation
            : p2p!.operation;

  const recorder = new Recorder();
  let stopping = false;
  const loops = Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (!stopping) {
        const start = performance.now();
        const outcome = await operation(i).catch(
          (err: unknown): Outcome => ({ ok: false, error: { step: 'request', status: 0, body: err instanceof Error ? err.message : String(err) } }),
        );
        recorder.record(start, performance.now(), outcome);
      }
    }),
  );

  await sleep(plan.warmupSeconds * 1000);
  const before = cpuSnapshot(plan.launcherPid, plan.external);
  recorder.windowStart = performance.now();
  await sleep(plan.seconds * 1000);
  recorder.windowEnd = performance.now();
  const after = cpuSnapshot(plan.launcherPid, plan.external);
  stopping = true;
  const drained = await Promise.race([loops.then(() => true), sleep(DRAIN_TIMEOUT_MS).then(() => false)]);

  const windowSeconds = (recorder.windowEnd - recorder.windowStart) / 1000;
  const result: GeneratorResult = {
    scenario: plan.scenario,
    clients,
    ops: recorder.ops,
    errors: recorder.errors,
    errorsOutsideWindow: recorder.errorsOutsideWindow,
    errorSamples: recorder.samples,
    windowSeconds,
    opsPerSecond: recorder.ops / windowSeconds,
    latency: summarize(recorder.latencies),
    ...(p2p ? { confirmLatency: summarize(recorder.confirmLatencies), settled: p2p.settled, unconfirmed: p2p.unconfirmed() } : {}),
    ...(payments ? { confirmLatency: summarize(recorder.confirmLatencies), settled: payments.settled } : {}),
    cpu: { ticksPerSecond: clockTicksPerSecond(), delta: cpuDelta(before, after) },
    drainTimedOut: !drained,
  };
  http.close();
  await floor?.stop();
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
