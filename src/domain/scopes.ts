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
