/** TMCP scopes (PROTO 5.2). `consent` marks the ones a user must approve before a token carries them. */
export const SCOPES = {
  'user:read': { consent: true },
  'user:read:extended': { consent: true },
  'user:read:contacts': { consent: true },
  'wallet:balance': { consent: true },
  'wallet:pay': { consent: true },
  'wallet:history': { consent: true },
  'wallet:request': { consent: true },
  'messaging:send': { consent: true },
  'messaging:read': { consent: true },
  'storage:read': { consent: false },
  'storage:write': { consent: false },
  'webhook:send': { consent: true },
  'room:create': { consent: true },
  'room:invite': { consent: true },
} as const;

export type Scope = keyof typeof SCOPES;

export const ALL_SCOPES = Object.keys(SCOPES) as Scope[];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && Object.hasOwn(SCOPES, value);
}

export function parseScopeString(scope: string): string[] {
  return scope.split(/\s+/).filter((s) => s.length > 0);
}

/** Why a requested scope is not granted (PROTO 5.5). */
export type ScopeDenial = { scope: string; reason: 'not_registered' };

export interface ScopeDecision {
  /** Carried by the token now: pre-approved for the app, needing no consent, or approved by the user before. */
  granted: Scope[];
  /** Registered for the app and sensitive, but not approved by this user yet. */
  consentRequired: Scope[];
  /** Not TMCP scopes of this app: refused (PROTO 5.5: no escalation past registration). */
  denied: ScopeDenial[];
  /** Matrix scopes (MSC2967 `urn:matrix:...`): not ours to grant; the homeserver's or MAS's. */
  matrix: string[];
}

const MATRIX_SCOPE = /^urn:matrix:/;

/**
 * PROTO 4.3.1 step 3 and 5.5: splits the requested scopes into what a token may carry now, what
 * needs the user's consent first, and what is refused. Duplicates count once; order is kept.
 */
export function authorizeScopes(input: {
  requested: readonly string[];
  registered: readonly string[];
  preApproved: readonly string[];
  /** Scopes this user approved for this app earlier. */
  approved: readonly string[];
}): ScopeDecision {
  const decision: ScopeDecision = { granted: [], consentRequired: [], denied: [], matrix: [] };
  for (const scope of new Set(input.requested)) {
    if (MATRIX_SCOPE.test(scope)) decision.matrix.push(scope);
    else if (!isScope(scope) || !input.registered.includes(scope)) decision.denied.push({ scope, reason: 'not_registered' });
    else if (!SCOPES[scope].consent || input.preApproved.includes(scope) || input.approved.includes(scope)) decision.granted.push(scope);
    else decision.consentRequired.push(scope);
  }
  return decision;
}

/** The requested scopes the app is registered for (granted or needing consent), once each, in the order asked. */
export function registeredInOrder(requested: readonly string[], decision: ScopeDecision): Scope[] {
  const allowed = new Set<string>([...decision.granted, ...decision.consentRequired]);
  return [...new Set(requested)].filter((s): s is Scope => allowed.has(s));
}
