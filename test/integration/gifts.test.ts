import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { available, expectError, pinProof, walletUser, type TestUser } from '../helpers/p2p';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';

/**
 * Group gifts (PROTO 7.5) through the API and the real worker, Matrix off (room checks are the
 * Synapse suite's and the time-skipping test's): escrow, distribution, concurrent openings.
 */
let db: TestDatabase;
let api: TestApi;
let worker: TestWorker;
beforeAll(async () => {
  db = await freshDatabase();
  const taskQueue = uniqueTaskQueue('gifts');
  worker = await startTestWorker(db, { taskQueue });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue });
});
afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await db?.close();
});

const ROOM = '!party:tmcp.test';
let n = 0;
const create = (from: TestUser, body: Record<string, unknown>) => {
  n += 1;
  return api.call('POST', '/api/v1/wallet/gift/create', {
    token: from.token,
    body: { type: 'group', room_id: ROOM, currency: 'USD', idempotency_key: `gift-${n}-${Date.now()}`, message: 'Happy Friday!', ...pinProof(), ...body },
  });
};
const open = (who: TestUser, giftId: string) => api.call('POST', `/api/v1/wallet/gift/${giftId}/open`, { token: who.token, body: {} });
const escrowBalance = (giftId: string) =>
  db.pool.oneFirst(sql.type(z.object({ balance: z.bigint() }))`SELECT coalesce(sum(balance), 0)::bigint AS balance FROM accounts WHERE kind = 'escrow' AND owner = ${giftId}`);

describe('group gifts', () => {
  it('50 members open a 10-share gift at the same moment: 10 are paid once each, 40 find it empty, the escrow ends at zero', async () => {
    const sender = await walletUser(api, { name: 'host', fund: '200.00' });
    const created = await create(sender, { total_amount: '100.00', count: 10, distribution: 'random' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ gift_id: expect.stringMatching(/^gift_/), status: 'active', type: 'group', total_amount: 100, count: 10, remaining: 10, opened_by: [], expires_at: expect.any(String) });
    const id = created.body.gift_id as string;
    expect(await available(api, sender)).toBe(100);
    expect(await escrowBalance(id)).toBe(10_000n);

    const members = await Promise.all(Array.from({ length: 50 }, (_, i) => walletUser(api, { name: `guest${i}`, pin: false })));
    const answers = await Promise.all(members.map((m) => open(m, id)));
    const paid = answers.filter((a) => a.status === 200);
    expect(paid).toHaveLength(10);
    expect(answers.filter((a) => a.status === 409 && a.body.error.code === 'GIFT_EMPTY')).toHaveLength(40);
    expect(paid.map((a) => a.body.stats.your_rank).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const total = paid.reduce((sum, a) => sum + Math.round(a.body.amount_received * 100), 0);
    expect(total).toBe(10_000);
    expect(await escrowBalance(id)).toBe(0n);
    // Nobody was paid twice: one opening row per opener, and balances match what each was told.
    const rows = await db.pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`SELECT user_id FROM gift_openings WHERE gift_id = ${id}`);
    expect(new Set(rows).size).toBe(10);
    for (const [i, a] of answers.entries()) {
      expect(await available(api, members[i]!)).toBe(a.status === 200 ? a.body.amount_received : 0);
    }
    const shown = await api.call('GET', `/api/v1/wallet/gift/${id}`, { token: sender.token });
    expect(shown.body).toMatchObject({ status: 'fully_opened', remaining: 0 });
    expect(shown.body.leaderboard).toHaveLength(10);
    const amounts = shown.body.leaderboard.map((l: { amount: number }) => l.amount);
    expect([...amounts].sort((a, b) => b - a)).toEqual(amounts);
  }, 60_000);

  it('equal shares: the rounding on the first; every share at least a cent', async () => {
    const sender = await walletUser(api, { name: 'equal', fund: '50.00' });
    const { body } = await create(sender, { total_amount: '10.00', count: 3, distribution: 'equal' });
    const guests = await Promise.all([0, 1, 2].map((i) => walletUser(api, { name: `eq${i}`, pin: false })));
    const got: number[] = [];
    for (const g of guests) got.push((await open(g, body.gift_id)).body.amount_received);
    expect(got).toEqual([3.34, 3.33, 3.33]);
  });

  it('refuses the sender of a group gift, a second opening, and bad requests naming the field', async () => {
    const sender = await walletUser(api, { name: 'picky', fund: '50.00' });
    const { body } = await create(sender, { total_amount: '5.00', count: 2 });
    expectError(await open(sender, body.gift_id), 403, 'INSUFFICIENT_PERMISSIONS');
    const guest = await walletUser(api, { name: 'once', pin: false });
    const first = await open(guest, body.gift_id);
    expect(first.status).toBe(200);
    // While the gift is still open to others, a second try answers what the first received, as a decimal amount.
    const again = await open(guest, body.gift_id);
    expectError(again, 409, 'ALREADY_OPENED');
    expect(again.body.error.details).toEqual({ gift_id: body.gift_id, amount_received: first.body.amount_received, your_rank: first.body.stats.your_rank });

    expectError(await create(sender, { total_amount: '0.01', count: 2 }), 400, 'INVALID_REQUEST', 'total_amount');
    expectError(await create(sender, { total_amount: '1.00', count: 0 }), 400, 'INVALID_REQUEST', 'count');
    expectError(await create(sender, { total_amount: '1.00', count: 2, distribution: 'fair' }), 400, 'INVALID_REQUEST', 'distribution');
    expectError(await create(sender, { total_amount: '1.00', count: 101 }), 400, 'INVALID_REQUEST', 'count');
    expectError(await create(sender, { total_amount: '1.00', count: 2, expires_in_seconds: 30 }), 400, 'INVALID_REQUEST', 'expires_in_seconds');
    expectError(await create(sender, { total_amount: '1000.00', count: 2 }), 402, 'INSUFFICIENT_FUNDS');
    expectError(await create(sender, { total_amount: '1.00', count: 2, ...pinProof('0000') }), 401, 'INVALID_MFA_CREDENTIALS');
    expectError(await api.call('POST', '/api/v1/wallet/gift/gift_nope/open', { token: guest.token, body: {} }), 400, 'INVALID_REQUEST', 'gift_id');
    // Nothing left the sender but the one gift.
    expect(await available(api, sender)).toBe(45);
  });

  it('is idempotent by idempotency_key', async () => {
    const sender = await walletUser(api, { name: 'twice', fund: '50.00' });
    const body = { type: 'group', room_id: ROOM, currency: 'USD', total_amount: '4.00', count: 2, idempotency_key: 'same-gift', ...pinProof() };
    const first = await api.call('POST', '/api/v1/wallet/gift/create', { token: sender.token, body });
    const again = await api.call('POST', '/api/v1/wallet/gift/create', { token: sender.token, body });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expectError(await api.call('POST', '/api/v1/wallet/gift/create', { token: sender.token, body: { ...body, count: 3 } }), 409, 'DUPLICATE_TRANSACTION', 'idempotency_key');
    expect(await available(api, sender)).toBe(46);
    // The first answer was lost (a timeout, a crash before it was stored): the same request again is
    // answered from what happened, and charges nothing more.
    await db.pool.query(sql.unsafe`UPDATE gifts SET response = NULL WHERE id = ${first.body.gift_id}`);
    const recovered = await api.call('POST', '/api/v1/wallet/gift/create', { token: sender.token, body });
    expect(recovered.status).toBe(201);
    expect(recovered.body).toMatchObject({ gift_id: first.body.gift_id, status: 'active', remaining: 2 });
    expect(await available(api, sender)).toBe(46);
  });
});

describe('individual gifts', () => {
  it('only the recipient opens it', async () => {
    const sender = await walletUser(api, { name: 'giver', fund: '50.00' });
    const recipient = await walletUser(api, { name: 'bday', pin: false });
    const other = await walletUser(api, { name: 'nosy', pin: false });
    const created = await api.call('POST', '/api/v1/wallet/gift/create', {
      token: sender.token,
      body: { type: 'individual', recipient: recipient.userId, amount: '7.50', currency: 'USD', room_id: ROOM, message: 'Happy Birthday!', idempotency_key: 'bday', ...pinProof() },
    });
    expect(created.body).toMatchObject({ type: 'individual', count: 1, recipient: recipient.userId });
    expectError(await open(other, created.body.gift_id), 403, 'INSUFFICIENT_PERMISSIONS');
    const opened = await open(recipient, created.body.gift_id);
    expect(opened.body).toMatchObject({ amount_received: 7.5, message: 'Happy Birthday!', sender: { user_id: sender.userId }, stats: { total_opened: 1, total_remaining: 0, your_rank: 1 } });
    expect(await available(api, recipient)).toBe(7.5);
    expectError(await open(recipient, created.body.gift_id), 409, 'ALREADY_OPENED');
    const nobody = await api.call('POST', '/api/v1/wallet/gift/create', {
      token: sender.token,
      body: { type: 'individual', recipient: '@ghost:tmcp.test', amount: '1.00', currency: 'USD', room_id: ROOM, idempotency_key: 'ghost', ...pinProof() },
    });
    expectError(nobody, 400, 'RECIPIENT_NO_WALLET');
  });
});

describe('currencies', () => {
  it('money lands only in a wallet of its currency: a JPY wallet cannot open a USD gift or be given one, and nothing moves', async () => {
    const sender = await walletUser(api, { name: 'dollars', fund: '50.00' });
    const yen = await walletUser(api, { name: 'yen', pin: false, currency: 'JPY' });
    const individual = await api.call('POST', '/api/v1/wallet/gift/create', {
      token: sender.token,
      body: { type: 'individual', recipient: yen.userId, amount: '5.00', currency: 'USD', room_id: ROOM, idempotency_key: 'to-yen', ...pinProof() },
    });
    expectError(individual, 400, 'CURRENCY_MISMATCH', 'recipient');
    expect(await available(api, sender)).toBe(50);

    const { body } = await create(sender, { total_amount: '4.00', count: 2, distribution: 'equal' });
    expectError(await open(yen, body.gift_id), 400, 'CURRENCY_MISMATCH');
    const usdAccounts = await db.pool.anyFirst(sql.type(z.object({ currency: z.string() }))`
      SELECT currency FROM accounts WHERE owner = ${yen.walletId} AND currency <> 'JPY'`);
    expect(usdAccounts).toEqual([]);
    // The share stays for someone who can hold it.
    const guest = await walletUser(api, { name: 'dollar-guest', pin: false });
    expect((await open(guest, body.gift_id)).body).toMatchObject({ amount_received: 2, stats: { your_rank: 1, total_remaining: 1 } });
  });
});

describe("a device's signature", () => {
  /** The sender with a registered device key. */
  async function signer(name: string) {
    const user = await walletUser(api, { name, fund: '50.00' });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const registered = await api.call('POST', '/api/v1/wallet/devices/register', {
      token: user.messenger,
      body: { device_id: `phone_${name}`, public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, ...pinProof() },
    });
    expect(registered.status).toBe(201);
    return { ...user, key: privateKey, deviceId: `phone_${name}` };
  }
  const proof = (key: KeyObject, deviceId: string, message: string, timestamp: string) => ({
    auth_proof: { method: 'biometric', proof: { signature: sign('sha256', Buffer.from(message), { key, dsaEncoding: 'ieee-p1363' }).toString('base64'), device_id: deviceId, timestamp } },
  });
  /** README: gift:v2, room, type, recipient or count, distribution, total, currency, idempotency key, timestamp, one per line. */
  const v2 = (fields: { type: string; party: string; distribution: string; total: string; key: string }, timestamp: string) =>
    ['gift:v2', ROOM, fields.type, fields.party, fields.distribution, fields.total, 'USD', fields.key, timestamp].join('\n');

  it('binds the recipient, count, distribution, amount and key: a signature for one gift funds no other', async () => {
    const alice = await signer('signer');
    const bob = await walletUser(api, { name: 'bob', pin: false });
    const mallory = await walletUser(api, { name: 'mallory', pin: false });
    // Each forgery reuses a signature Alice made for 10.00 USD to Bob under key `signedKey`, changing one thing.
    const forBob = (signedKey: string) => {
      const ts = new Date().toISOString();
      return proof(alice.key, alice.deviceId, v2({ type: 'individual', party: bob.userId, distribution: 'equal', total: '10.00', key: signedKey }, ts), ts);
    };
    const individual = (recipient: string, key: string, signed: object, amount = '10.00') =>
      api.call('POST', '/api/v1/wallet/gift/create', { token: alice.token, body: { type: 'individual', recipient, amount, currency: 'USD', room_id: ROOM, idempotency_key: key, ...signed } });

    expectError(await individual(mallory.userId, 'k1', forBob('k1')), 401, 'INVALID_SIGNATURE');
    expectError(await individual(bob.userId, 'k2', forBob('k2'), '9.00'), 401, 'INVALID_SIGNATURE');
    expectError(await individual(bob.userId, 'k3', forBob('k4')), 401, 'INVALID_SIGNATURE');
    const group = await api.call('POST', '/api/v1/wallet/gift/create', {
      token: alice.token,
      body: { type: 'group', total_amount: '10.00', count: 1, distribution: 'equal', currency: 'USD', room_id: ROOM, idempotency_key: 'k5', ...forBob('k5') },
    });
    expectError(group, 401, 'INVALID_SIGNATURE');
    expect(await available(api, alice)).toBe(50);

    // The gift it was made for.
    expect((await individual(bob.userId, 'k6', forBob('k6'))).status).toBe(201);
    expect(await available(api, alice)).toBe(40);
    // A group gift signs its count and distribution.
    const forTwo = (key: string) => {
      const ts = new Date().toISOString();
      return proof(alice.key, alice.deviceId, v2({ type: 'group', party: '2', distribution: 'random', total: '4.00', key }, ts), ts);
    };
    const pair = (key: string, count: number, distribution = 'random') => api.call('POST', '/api/v1/wallet/gift/create', {
      token: alice.token,
      body: { type: 'group', total_amount: '4.00', count, distribution, currency: 'USD', room_id: ROOM, idempotency_key: key, ...forTwo(key) },
    });
    expectError(await pair('p1', 3), 401, 'INVALID_SIGNATURE');
    expectError(await pair('p2', 2, 'equal'), 401, 'INVALID_SIGNATURE');
    expect((await pair('p3', 2)).status).toBe(201);
  });

  it('refuses the old format, which named only room, total and currency', async () => {
    const carol = await signer('oldformat');
    const ts = new Date().toISOString();
    const old = proof(carol.key, carol.deviceId, `gift:${ROOM}:5.00:USD:${ts}`, ts);
    const res = await api.call('POST', '/api/v1/wallet/gift/create', {
      token: carol.token,
      body: { type: 'group', total_amount: '5.00', count: 1, distribution: 'equal', currency: 'USD', room_id: ROOM, idempotency_key: 'old', ...old },
    });
    expectError(res, 401, 'INVALID_SIGNATURE');
    expect(await available(api, carol)).toBe(50);
  });
});
