import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../helpers/api';
import { freshDatabase, type TestDatabase } from '../helpers/db';
import { available, confirm, initiate, walletUser } from '../helpers/p2p';
import { recordHistory } from '../helpers/histories';
import { startStubHomeserver, type StubHomeserver } from '../helpers/stubHomeserver';
import { startTestWorker, uniqueTaskQueue, type TestWorker } from '../helpers/worker';
import { eventually } from '../helpers/eventually';

const AS_TOKEN = 'as-token-for-the-stub-0123456789';
const ROOM = '!chat:tmcp.test';

let db: TestDatabase;
let hs: StubHomeserver;
let api: TestApi;
let worker: TestWorker;
let offApi: TestApi;
let offWorker: TestWorker;
const offLogs: Record<string, unknown>[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  hs = await startStubHomeserver();
  const taskQueue = uniqueTaskQueue('matrix');
  worker = await startTestWorker(db, { taskQueue, matrix: { homeserverUrl: hs.url, asToken: AS_TOKEN, serverName: 'tmcp.test' } });
  api = await startTestApi(db, { TEMPORAL_TASK_QUEUE: taskQueue, MATRIX_EVENT_WAIT_MS: '3000' });

  const offQueue = uniqueTaskQueue('matrix-off');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) offLogs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  offWorker = await startTestWorker(db, { taskQueue: offQueue, log: pino({ level: 'info' }, sink) });
  offApi = await startTestApi(db, { TEMPORAL_TASK_QUEUE: offQueue });
});
afterAll(async () => {
  await api.close();
  await offApi.close();
  await worker.stop();
  await offWorker.stop();
  await hs.close();
  await db.close();
});

const transferRow = (id: string) =>
  db.pool.one(sql.type(
    z.object({
      status: z.string(),
      event_id: z.string().nullable(),
      status_event_id: z.string().nullable(),
      event_error: z.string().nullable(),
      status_event_error: z.string().nullable(),
    }),
  )`
    SELECT status, event_id, status_event_id, event_error, status_event_error FROM p2p_transfers WHERE id = ${id}`);


async function sentTransfer(target: TestApi, amount = '4.20', extra: Record<string, unknown> = { room_id: ROOM }) {
  const alice = await walletUser(target, { name: 'alice', fund: '2000.00' });
  const bob = await walletUser(target, { name: 'bob' });
  const started = await initiate(target, alice, { recipient: bob.userId, amount, note: 'Dinner', ...extra });
  return { alice, bob, id: started.body.transfer_id as string };
}

describe('m.tween.wallet.p2p events', () => {
  it('sends the PROTO 7.2.8 event as the payments bot and answers confirm with its event_id', async () => {
    const { alice, bob, id } = await sentTransfer(api);
    const res = await confirm(api, alice, id);
    expect(res.status).toBe(200);
    const [event] = hs.events().filter((e) => e.content.transfer_id === id);
    expect(event).toMatchObject({
      roomId: ROOM,
      type: 'm.tween.wallet.p2p',
      txnId: `p2p-${id}.transfer`,
      userId: '@_tmcp_payments:tmcp.test',
      authorization: `Bearer ${AS_TOKEN}`,
    });
    expect(event!.content).toEqual({
      msgtype: 'm.tween.money',
      body: '💸 Sent $4.20',
      transfer_id: id,
      amount: '4.20',
      currency: 'USD',
      note: 'Dinner',
      sender: { user_id: alice.userId },
      recipient: { user_id: bob.userId },
      status: 'completed',
      recipient_acceptance_required: false,
      timestamp: res.body.timestamp,
    });
    expect(res.body.event_id).toBe(event!.eventId);
    expect((await eventually(() => transferRow(id), (r) => r.event_id !== null)).event_id).toBe(event!.eventId);
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'completed-with-event');
  });

  it('retries 5xx with the same txnId until the homeserver takes the event', async () => {
    const { alice, id } = await sentTransfer(api);
    hs.reply({ status: 502 }, { status: 500 });
    expect((await confirm(api, alice, id)).body.status).toBe('completed');
    const row = await eventually(() => transferRow(id), (r) => r.event_id !== null);
    expect(row.event_id).toMatch(/^\$stub/);
    const attempts = hs.requests.filter((r) => r.content.transfer_id === id);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.txnId))).toEqual(new Set([`p2p-${id}.transfer`]));
    expect(hs.events().filter((e) => e.content.transfer_id === id)).toHaveLength(1);
  });

  it("honours a 429's retry_after_ms rather than the usual backoff", async () => {
    const { alice, id } = await sentTransfer(api);
    hs.reply({ status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 2500 } });
    const res = await confirm(api, alice, id);
    const attempts = hs.requests.filter((r) => r.content.transfer_id === id);
    expect(attempts).toHaveLength(2);
    const gap = attempts[1]!.at - attempts[0]!.at;
    // The policy alone would retry after one second; the homeserver asked for two and a half.
    expect(gap).toBeGreaterThanOrEqual(2400);
    expect(gap).toBeLessThan(4000);
    expect(res.body.event_id).toBe(hs.events().find((e) => e.content.transfer_id === id)!.eventId);
  });

  it('joins the room when the bot is not in it, and sends again', async () => {
    const { alice, id } = await sentTransfer(api);
    hs.reply({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'User @_tmcp_payments:tmcp.test not in room' } });
    const joinsBefore = hs.calls.filter((c) => c.kind === 'join').length;
    const res = await confirm(api, alice, id);
    expect(res.body.status).toBe('completed');
    const joins = hs.calls.filter((c) => c.kind === 'join').slice(joinsBefore);
    expect(joins).toMatchObject([{ args: [ROOM], userId: '@_tmcp_payments:tmcp.test', authorization: `Bearer ${AS_TOKEN}` }]);
    const sends = hs.requests.filter((r) => r.content.transfer_id === id);
    expect(sends).toHaveLength(2);
    expect(res.body.event_id).toBe(hs.events().find((e) => e.content.transfer_id === id)!.eventId);
  });

  it('does not retry a refusal: the error is recorded on the transfer and the money still moved', async () => {
    const { alice, bob, id } = await sentTransfer(api);
    hs.reply({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'User not in room' } });
    hs.replyFor('join', ROOM, { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'You are not invited to this room.' } });
    const res = await confirm(api, alice, id);
    expect(res.body.status).toBe('completed');
    expect(res.body.event_id).toBeUndefined();
    const row = await eventually(() => transferRow(id), (r) => r.event_error !== null);
    expect(row.event_error).toContain('MATRIX_SEND_REFUSED');
    expect(row.event_error).toContain('not invited');
    await new Promise((r) => setTimeout(r, 1500));
    expect(hs.requests.filter((r) => r.content.transfer_id === id)).toHaveLength(1);
    expect(await available(api, bob)).toBe(4.2);
    const view = await api.call('GET', `/api/v1/wallet/p2p/${id}`, { token: alice.token });
    expect(view.body.event_error).toContain('403');
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'event-refused');
  });

  it('announces a held transfer with accept and reject actions, then its acceptance as a status event', async () => {
    const { alice, bob, id } = await sentTransfer(api, '1500.00');
    const held = await confirm(api, alice, id);
    expect(held.body.status).toBe('pending_recipient_acceptance');
    const announced = hs.events().find((e) => e.content.transfer_id === id)!;
    expect(announced.content).toMatchObject({
      status: 'pending_recipient_acceptance',
      recipient_acceptance_required: true,
      expires_at: held.body.expires_at,
      actions: [
        { type: 'accept', label: 'Confirm Receipt', endpoint: `/api/v1/wallet/p2p/${id}/accept` },
        { type: 'reject', label: 'Decline', endpoint: `/api/v1/wallet/p2p/${id}/reject` },
      ],
    });
    const accepted = await api.call('POST', `/api/v1/wallet/p2p/${id}/accept`, { token: bob.token, body: {} });
    const row = await eventually(() => transferRow(id), (r) => r.status_event_id !== null);
    const status = hs.events().find((e) => e.type === 'm.tween.wallet.p2p.status' && e.content.transfer_id === id)!;
    expect(status).toMatchObject({ txnId: `p2p-${id}.status`, userId: '@_tmcp_payments:tmcp.test' });
    expect(status.content).toMatchObject({
      transfer_id: id,
      status: 'completed',
      accepted_at: accepted.body.accepted_at,
      visual: { icon: '✓', color: 'green', status_text: 'Accepted' },
    });
    expect(row.status_event_id).toBe(status.eventId);
    await recordHistory(api.temporal.client, `p2p-${id}`, 'p2p', 'held-accepted-with-events');
  });

  it('announces a rejection, and keeps the refused transfer event recorded beside it', async () => {
    const { alice, bob, id } = await sentTransfer(api, '1500.00');
    hs.reply({ status: 400, body: { errcode: 'M_BAD_JSON', error: 'stub refuses' } });
    expect((await confirm(api, alice, id)).body.status).toBe('pending_recipient_acceptance');
    await eventually(() => transferRow(id), (r) => r.event_error !== null);
    const rejected = await api.call('POST', `/api/v1/wallet/p2p/${id}/reject`, { token: bob.token, body: { reason: 'user_declined' } });
    const row = await eventually(() => transferRow(id), (r) => r.status_event_id !== null);
    expect(row).toMatchObject({ status: 'rejected', event_id: null, event_error: expect.stringContaining('M_BAD_JSON'), status_event_error: null });
    const status = hs.events().find((e) => e.type === 'm.tween.wallet.p2p.status' && e.content.transfer_id === id)!;
    expect(status.content).toMatchObject({ status: 'rejected', rejected_at: rejected.body.rejected_at, visual: { icon: '✕', status_text: 'Declined' } });
    expect(row.status_event_id).toBe(status.eventId);
  });

  it('sends nothing for a transfer without a room', async () => {
    const { alice, id } = await sentTransfer(api, '1.00', {});
    const res = await confirm(api, alice, id);
    expect(res.body.status).toBe('completed');
    expect(hs.requests.filter((r) => r.content.transfer_id === id)).toHaveLength(0);
  });
});

describe('without a homeserver', () => {
  it('skips the event with a log line and still moves the money', async () => {
    const { alice, bob, id } = await sentTransfer(offApi);
    const res = await confirm(offApi, alice, id);
    expect(res.body.status).toBe('completed');
    expect(res.body.event_id).toBeUndefined();
    expect(await available(offApi, bob)).toBe(4.2);
    const line = await eventually(
      async () => offLogs.find((l) => l.msg === 'Matrix is off: room event skipped' && String(l.txn_id).includes(id)),
      (l) => l !== undefined,
    );
    expect(line).toMatchObject({ room_id: ROOM, type: 'm.tween.wallet.p2p' });
  });
});
