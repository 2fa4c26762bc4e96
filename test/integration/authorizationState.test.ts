import { AUTHORIZATION_STATE_TYPE, authorizationWorkflowId } from '../../src/domain/authorizationEvents';
import type { TestApi } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { startMatrixStack, type MatrixStack } from '../helpers/matrixStack';
import { stubSession, type StubHomeserver } from '../helpers/stubHomeserver';

/**
 * PROTO 5.6 step 3: a user withdrawing a mini-app's access is documented in Matrix, as the
 * `m.room.tween.authorization` state of their direct room with the payments bot, keyed by the
 * mini-app, once per revocation.
 */
let stack: MatrixStack;
let hs: StubHomeserver;
let api: TestApi;

beforeAll(async () => {
  stack = await startMatrixStack('authorization');
  ({ hs, api } = stack);
});
afterAll(async () => {
  await stack?.close();
});

const form = (fields: Record<string, string>) =>
  api.call('POST', '/api/v1/oauth/token', { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

test("a revocation becomes the mini-app's authorization state in the user's room with the payments bot, once", async () => {
  const alice = stubSession(hs, 'alice');
  const exchanged = await form({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: alice.token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    client_id: 'ma_shop_001',
  });
  expect(exchanged.status).toBe(200);
  const revoked = await api.call('POST', '/api/v1/auth/revoke', { token: alice.token, body: { client_id: 'ma_shop_001' } });
  expect(revoked.status).toBe(200);

  const states = () => hs.calls.filter((c) => c.kind === 'state' && c.args[1] === AUTHORIZATION_STATE_TYPE);
  const [state] = await eventually(async () => states(), (s) => s.length > 0);
  const room = hs.calls.find((c) => c.kind === 'createRoom');
  expect(room?.body).toMatchObject({ invite: [alice.userId] });
  expect(state).toMatchObject({ args: [expect.stringMatching(/^!created/), AUTHORIZATION_STATE_TYPE, 'ma_shop_001'], userId: '@_tmcp_payments:tmcp.test' });
  expect(state!.body).toEqual({
    authorized: false,
    revoked_at: Math.floor(Date.parse(revoked.body.revoked_at) / 1000),
    revoked_scopes: expect.arrayContaining(['user:read']),
    reason: 'user_initiated',
    tmcp_scopes: state!.body!.revoked_scopes,
    matrix_scopes: [],
  });

  // Nothing left to revoke: no second state event.
  expect((await api.call('POST', '/api/v1/auth/revoke', { token: alice.token, body: { client_id: 'ma_shop_001' } })).body.revoked_sessions).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(states()).toHaveLength(1);

  const [run] = await eventually(async () => {
    const found: string[] = [];
    for await (const w of api.temporal.client.workflow.list({ query: `WorkflowType = 'authorizationRecord' AND TmcpUserIds = '${alice.userId}'` })) found.push(w.workflowId);
    return found;
  }, (ids) => ids.length === 1);
  expect(run).toMatch(new RegExp(`^${authorizationWorkflowId('rvk_')}`));
  await recordHistory(api.temporal.client, run!, 'authorization', 'recorded');
});
