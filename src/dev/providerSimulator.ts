import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simulatorSignature, SIMULATOR_SIGNATURE_HEADER } from '../providers/simulator';

/**
 * A wallet provider that keeps state in memory, for the development stack and the tests: top-ups
 * the user "pays" on a checkout page, payouts that settle, signed callbacks, and faults it can be
 * told to inject into the next calls, which is where real providers lose or double money:
 *
 * - `timeout`: do the work, then answer only after `delay_ms` (the caller gives up first);
 * - `fail`: answer 500 and do nothing;
 * - `duplicate`: send each callback twice;
 * - `late`: send callbacks `delay_ms` late.
 *
 *   npm run dev:provider     (PROVIDER_SIMULATOR_PORT, PROVIDER_SIMULATOR_SECRET, PROVIDER_CALLBACK_URL)
 *
 * API (Bearer <secret>): POST /v1/topups, GET /v1/topups/:id, POST /v1/topups/:id/pay (the user
 * pays), POST /v1/topups/:id/decline; POST /v1/payouts, GET /v1/payouts/:id, POST /v1/payouts/:id/settle
 * {status: paid | failed}; POST /v1/external_accounts {type, token, currency}, DELETE
 * /v1/external_accounts/:id; POST /_faults {fault, count?, delay_ms?}; GET /checkout/:id (the page).
 * Creating calls honour `Idempotency-Key`: the same key answers the same operation. A token of an
 * external account is what a provider's client SDK would make: here `tok_sim_<4 to 17 digits>`,
 * and the account's label shows the last four.
 */
export interface SimulatorOptions {
  secret: string;
  /** Where callbacks are posted; none: no callbacks (the saga polls). */
  callbackUrl?: string;
  port?: number;
  /** Settle each payout as paid this long after it is made (the development stack); unset: payouts wait for /settle. */
  payoutSettleMs?: number;
}

type FaultName = 'timeout' | 'fail' | 'duplicate' | 'late';

interface Operation {
  id: string;
  kind: 'topup' | 'payout';
  status: string;
  amount_minor: string;
  currency: string;
  reference: string;
  destination?: string;
  failure_reason?: string;
}

interface LinkedAccount {
  id: string;
  type: string;
  label: string;
  currency: string;
  removed: boolean;
}

export interface ProviderSimulator {
  url: string;
  /** Callbacks sent so far (after signing), for tests. */
  callbacks: { body: string; status: number | string }[];
  operations: Map<string, Operation>;
  accounts: Map<string, LinkedAccount>;
  inject(fault: FaultName, count?: number, delayMs?: number): void;
  close(): Promise<void>;
}

const newRef = (prefix: string) => `${prefix}_${randomBytes(9).toString('hex')}`;

export async function startProviderSimulator(options: SimulatorOptions): Promise<ProviderSimulator> {
  const operations = new Map<string, Operation>();
  const accounts = new Map<string, LinkedAccount>();
  const byKey = new Map<string, string>();
  const faults: { fault: FaultName; left: number; delayMs: number }[] = [];
  const callbacks: ProviderSimulator['callbacks'] = [];
  const timers = new Set<NodeJS.Timeout>();
  let base = '';

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  /** Takes one use of a pending fault of that name. */
  const take = (fault: FaultName) => {
    const found = faults.find((f) => f.fault === fault && f.left > 0);
    if (!found) return undefined;
    found.left -= 1;
    return found;
  };

  async function postCallback(body: string): Promise<void> {
    if (!options.callbackUrl) return;
    try {
      const res = await fetch(options.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIMULATOR_SIGNATURE_HEADER]: simulatorSignature(options.secret, Math.floor(Date.now() / 1000), body) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      callbacks.push({ body, status: res.status });
    } catch (err) {
      callbacks.push({ body, status: err instanceof Error ? err.message : String(err) });
    }
  }

  function announce(op: Operation): void {
    const body = JSON.stringify({ id: newRef('evt'), type: `${op.kind}.${op.status}`, data: { id: op.id, status: op.status, reference: op.reference } });
    const late = take('late');
    const copies = take('duplicate') ? 2 : 1;
    later(late?.delayMs ?? 0, () => {
      for (let i = 0; i < copies; i += 1) void postCallback(body);
    });
  }

  const view = (op: Operation) => ({
    id: op.id,
    status: op.status,
    amount_minor: op.amount_minor,
    currency: op.currency,
    ...(op.kind === 'topup' ? { checkout_url: `${base}/checkout/${op.id}` } : {}),
    ...(op.failure_reason ? { failure_reason: op.failure_reason } : {}),
  });

  function create(kind: Operation['kind'], key: string | undefined, body: Record<string, unknown>): Operation {
    const known = key ? byKey.get(`${kind}:${key}`) : undefined;
    if (known) return operations.get(known)!;
    const amount = String(body.amount_minor ?? '');
    if (!/^[1-9]\d{0,17}$/.test(amount) || typeof body.currency !== 'string') throw Object.assign(new Error('amount_minor and currency are required'), { status: 400 });
    const op: Operation = {
      id: newRef(kind === 'topup' ? 'sim_top' : 'sim_po'),
      kind,
      status: 'pending',
      amount_minor: amount,
      currency: body.currency,
      reference: String(body.reference ?? ''),
      ...(typeof body.destination === 'string' ? { destination: body.destination } : {}),
    };
    if (kind === 'payout') {
      const to = accounts.get(op.destination ?? '');
      if (!to || to.removed) throw Object.assign(new Error('no such destination'), { status: 400 });
    }
    operations.set(op.id, op);
    if (key) byKey.set(`${kind}:${key}`, op.id);
    if (kind === 'payout' && options.payoutSettleMs !== undefined) later(options.payoutSettleMs, () => settle(op, 'paid'));
    return op;
  }

  function link(key: string | undefined, body: Record<string, unknown>): LinkedAccount {
    const known = key ? byKey.get(`account:${key}`) : undefined;
    if (known) return accounts.get(known)!;
    const token = typeof body.token === 'string' ? /^tok_sim_(\d{4,17})$/.exec(body.token) : null;
    if (!token) throw Object.assign(new Error('token must be a tok_sim_<digits> token'), { status: 400 });
    const type = body.type === 'card' ? 'card' : 'bank_account';
    const account: LinkedAccount = {
      id: newRef(type === 'card' ? 'sim_card' : 'sim_ba'),
      type,
      label: `${type === 'card' ? 'Simulated Card' : 'Simulated Bank'} •••• ${token[1]!.slice(-4)}`,
      currency: String(body.currency ?? ''),
      removed: false,
    };
    accounts.set(account.id, account);
    if (key) byKey.set(`account:${key}`, account.id);
    return account;
  }

  function settle(op: Operation, status: string, reason?: string): Operation {
    // A settled operation stays as it settled: a second settle is answered, not applied.
    if (op.status !== 'pending') return op;
    op.status = status;
    if (reason) op.failure_reason = reason;
    announce(op);
    return op;
  }

  async function route(req: IncomingMessage, body: Record<string, unknown>): Promise<{ status: number; json?: unknown; html?: string }> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && parts[0] === 'checkout' && parts[1]) {
      const op = operations.get(parts[1]);
      if (!op) return { status: 404, html: '<p>No such checkout.</p>' };
      return { status: 200, html: `<h1>Pay ${op.amount_minor} ${op.currency} (minor units)</h1><form method="post" action="/v1/topups/${op.id}/pay"><button>Pay</button></form>` };
    }
    const [, kindPath, id, action] = parts;
    // Paying or declining is the user's, on the checkout page; everything else is the merchant's.
    const userAction = parts[0] === 'v1' && kindPath === 'topups' && (action === 'pay' || action === 'decline');
    if (!userAction && req.headers.authorization !== `Bearer ${options.secret}`) return { status: 401, json: { error: 'bad secret' } };
    if (take('fail')) return { status: 500, json: { error: 'injected failure' } };
    const kind = kindPath === 'topups' ? 'topup' : kindPath === 'payouts' ? 'payout' : undefined;
    if (parts[0] === '_faults' && req.method === 'POST') {
      faults.push({ fault: body.fault as FaultName, left: Number(body.count ?? 1), delayMs: Number(body.delay_ms ?? 0) });
      return { status: 204 };
    }
    if (parts[0] === 'v1' && kindPath === 'external_accounts') {
      if (req.method === 'POST' && !id) return { status: 200, json: link(req.headers['idempotency-key'] as string | undefined, body) };
      const account = id ? accounts.get(id) : undefined;
      if (!account) return { status: 404, json: { error: 'no such account' } };
      if (req.method === 'DELETE') account.removed = true;
      return { status: 200, json: account };
    }
    if (parts[0] !== 'v1' || !kind) return { status: 404, json: { error: 'not found' } };
    if (req.method === 'POST' && !id) return { status: 200, json: view(create(kind, req.headers['idempotency-key'] as string | undefined, body)) };
    const op = id ? operations.get(id) : undefined;
    if (!op || op.kind !== kind) return { status: 404, json: { error: 'no such operation' } };
    if (req.method === 'GET' && !action) return { status: 200, json: view(op) };
    if (req.method === 'POST' && kind === 'topup' && action === 'pay') return { status: 200, json: view(settle(op, 'succeeded')) };
    if (req.method === 'POST' && kind === 'topup' && action === 'decline') return { status: 200, json: view(settle(op, 'failed', 'card declined')) };
    if (req.method === 'POST' && kind === 'payout' && action === 'settle') {
      const status = body.status === 'failed' ? 'failed' : 'paid';
      return { status: 200, json: view(settle(op, status, status === 'failed' ? String(body.reason ?? 'account closed') : undefined)) };
    }
    return { status: 404, json: { error: 'not found' } };
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      void (async () => {
        let answer: { status: number; json?: unknown; html?: string };
        try {
          const body = raw && req.headers['content-type']?.includes('json') ? (JSON.parse(raw) as Record<string, unknown>) : {};
          answer = await route(req, body);
        } catch (err) {
          answer = { status: (err as { status?: number }).status ?? 400, json: { error: err instanceof Error ? err.message : String(err) } };
        }
        const timeout = answer.status < 300 && req.method === 'POST' ? take('timeout') : undefined;
        later(timeout?.delayMs ?? 0, () => {
          if (answer.html !== undefined) res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.html);
          else res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.json === undefined ? undefined : JSON.stringify(answer.json));
        });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    callbacks,
    operations,
    accounts,
    inject(fault, count = 1, delayMs = 0) {
      faults.push({ fault, left: count, delayMs });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (require.main === module) {
  const secret = process.env.PROVIDER_SIMULATOR_SECRET || 'dev-provider-secret';
  void startProviderSimulator({
    secret,
    callbackUrl: process.env.PROVIDER_CALLBACK_URL,
    port: Number(process.env.PROVIDER_SIMULATOR_PORT || 4010),
    payoutSettleMs: Number(process.env.PROVIDER_SIMULATOR_PAYOUT_SETTLE_MS || 3000),
  }).then((sim) => {
    process.stdout.write(`provider simulator at ${sim.url} (secret from PROVIDER_SIMULATOR_SECRET; callbacks to ${process.env.PROVIDER_CALLBACK_URL ?? 'nowhere'})\n`);
  });
}
