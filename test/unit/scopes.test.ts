import { authorizeScopes } from '../../src/domain/scopes';

const app = { registered: ['user:read', 'wallet:pay', 'wallet:balance', 'storage:write'], preApproved: ['user:read'] };

test('grants pre-approved scopes and the ones that need no consent, asks consent for the sensitive rest', () => {
  expect(authorizeScopes({ ...app, requested: ['user:read', 'storage:write', 'wallet:pay'], approved: [] })).toEqual({
    granted: ['user:read', 'storage:write'],
    consentRequired: ['wallet:pay'],
    denied: [],
    matrix: [],
  });
});

test("grants what the user approved before, and refuses what the app is not registered for or what is no scope at all", () => {
  const decision = authorizeScopes({ ...app, requested: ['wallet:pay', 'wallet:pay', 'room:create', 'wallet:steal'], approved: ['wallet:pay'] });
  expect(decision).toEqual({
    granted: ['wallet:pay'],
    consentRequired: [],
    denied: [{ scope: 'room:create', reason: 'not_registered' }, { scope: 'wallet:steal', reason: 'not_registered' }],
    matrix: [],
  });
});

test('leaves Matrix scopes to the homeserver or MAS', () => {
  const decision = authorizeScopes({ ...app, requested: ['urn:matrix:org.matrix.msc2967.client:api:*', 'user:read'], approved: [] });
  expect(decision.matrix).toEqual(['urn:matrix:org.matrix.msc2967.client:api:*']);
  expect(decision.granted).toEqual(['user:read']);
});
