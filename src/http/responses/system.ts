import { z } from 'zod';
import { Instant } from './common';

/** Liveness: the process serves. */
export const Health = z.object({ status: z.literal('ok') });

const Dependency = z.object({ reachable: z.boolean(), latency_ms: z.number().int() });
const Checks = { postgres: Dependency, temporal: Dependency, checked_at: Instant };

export const Ready = z.object({ status: z.literal('ok'), ...Checks });

/** 503: a dependency does not answer, or the process is stopping (no checks then). */
export const NotReady = z.union([z.object({ status: z.literal('unavailable'), ...Checks }), z.object({ status: z.literal('draining') })]);

/** The TEP public keys (RS256), every key of the set so tokens signed before a rotation still verify. */
export const Jwks = z.object({
  keys: z.array(z.object({ kty: z.literal('RSA'), kid: z.string(), n: z.string(), e: z.string(), alg: z.literal('RS256'), use: z.literal('sig') })),
});
