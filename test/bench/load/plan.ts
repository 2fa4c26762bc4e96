import type { CpuSnapshot } from './processes';
import type { Latency } from './stats';

/** How a P2P client proves each confirm: a device key (PKCS#8 PEM) or the PIN's digest. */
export type ProofMaterial = { method: 'biometric'; deviceId: string; privateKeyPem: string } | { method: 'pin'; hashedPin: string; deviceId: string };

/** One closed-loop P2P client: its own sender (token) paying its own recipient. */
export interface P2PClientPlan {
  senderToken: string;
  recipientUserId: string;
  proof: ProofMaterial;
}

export type Workload =
  /** The floor: empty workflows started by Update-with-Start (as p2pSaga is), client and worker in the generator. */
  | { kind: 'floor'; temporalAddress: string; clients: number }
  | { kind: 'p2p'; amount: string; currency: string; clients: P2PClientPlan[] }
  /** GET `path` with `connections` closed-loop callers; caller i uses tokens[i % tokens.length] (none: no auth). */
  | { kind: 'get'; path: string; connections: number; tokens: string[] }
  /** PUT `json` to `path` with `connections` closed-loop callers, caller i with tokens[i % tokens.length]; 200 counts. */
  | { kind: 'put'; path: string; connections: number; tokens: string[]; json: unknown }
  /** POST a form to `path` with `connections` closed-loop callers; 200 counts. */
  | { kind: 'form'; path: string; connections: number; form: Record<string, string> }
  /** Mini-app payments: client i requests and authorizes (device signature) payments of its own payer. */
  | { kind: 'payment'; amount: string; currency: string; clients: { token: string; deviceId: string; privateKeyPem: string }[] }
  /** Mini-app payments cancelled by their payer before authorization: request, then cancel; nothing moves. */
  | { kind: 'payment-cancel'; amount: string; currency: string; clients: { token: string }[] }
  /** Gifts: client i's sender drops a one-share gift (device signature) and its opener opens it. */
  | { kind: 'gift'; amount: string; currency: string; roomId: string; clients: { senderToken: string; deviceId: string; privateKeyPem: string; openerToken: string }[] }
  /** The refresh grant: client i rotates its own refresh token chain, starting from refreshTokens[i]. */
  | { kind: 'refresh'; clientId: string; refreshTokens: string[] }
  /** Each client its own user: top up, pay at the provider simulator's checkout, wait for the credit. */
  | { kind: 'topup'; amount: string; currency: string; clients: { token: string }[] }
  /** Each client its own funded user with a device key and a linked account: withdraw (device-signed), wait until paid out. */
  | { kind: 'withdrawal'; amount: string; currency: string; clients: { messengerToken: string; deviceId: string; privateKeyPem: string; externalAccountId: string }[] };

/** What the orchestrator hands a generator process on stdin. */
export interface GeneratorPlan {
  scenario: string;
  runId: string;
  baseUrl: string;
  warmupSeconds: number;
  seconds: number;
  /** The launcher whose process tree the CPU samples walk, and which of its parts run elsewhere. */
  launcherPid: number;
  external: { postgres: boolean; temporal: boolean };
  workload: Workload;
}

export interface ErrorSample {
  step: string;
  status: number;
  body: string;
}

/** What a generator prints on stdout, as one JSON document. */
export interface GeneratorResult {
  scenario: string;
  clients: number;
  /** Operations that finished inside the timed window: successful ones (for P2P, settled transfers) and failed ones. */
  ops: number;
  errors: number;
  /** Failures during the warm-up and the drain after the window (not counted above). */
  errorsOutsideWindow: number;
  errorSamples: ErrorSample[];
  windowSeconds: number;
  /** Successful operations per second of the window. */
  opsPerSecond: number;
  /** Successful operations in the window, from the first request to the last answer. */
  latency: Latency | null;
  /** P2P only: the confirm request alone. */
  confirmLatency?: Latency | null;
  cpu: { ticksPerSecond: number; delta: CpuSnapshot };
  /** P2P and payments, per client in plan order: transfers or payments that answered `completed`, over the whole run. */
  settled?: number[];
  /** P2P only: transfers initiated whose confirm did not answer `completed` (their outcome is not known here). */
  unconfirmed?: number;
  /** True when in-flight operations did not finish after the window: `settled` may then be short. */
  drainTimedOut: boolean;
}
