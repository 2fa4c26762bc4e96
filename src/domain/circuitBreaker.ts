/**
 * A circuit breaker with the parameters of PROTO 7.7: after 5 failures among the last 10 calls it
 * opens and callers are answered 503 at once for 60 s; then it lets one test call through every
 * 10 s, closing on a success and opening again on a failure. Small enough to keep here rather than
 * bend a library's rolling time windows to these request-count rules. The clock is given, so the
 * rules are tested without waiting.
 */
export interface BreakerSettings {
  /** Calls remembered (the monitoring window). */
  window: number;
  /** Failures within the window that open the circuit. */
  failures: number;
  /** How long an open circuit refuses every call. */
  openMs: number;
  /** Half-open: at most one test call per this interval. */
  probeEveryMs: number;
}

export const PROTO_BREAKER: BreakerSettings = { window: 10, failures: 5, openMs: 60_000, probeEveryMs: 10_000 };

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export type BreakerVerdict = { allowed: true } | { allowed: false; state: BreakerState; retryAfterMs: number };

export class CircuitBreaker {
  private outcomes: boolean[] = [];
  private current: BreakerState = 'CLOSED';
  private openedAt = 0;
  private lastProbe = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly settings: BreakerSettings = PROTO_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go out now; when not, how long until one may. */
  check(): BreakerVerdict {
    const t = this.now();
    if (this.current === 'OPEN') {
      const left = this.openedAt + this.settings.openMs - t;
      if (left > 0) return { allowed: false, state: 'OPEN', retryAfterMs: left };
      this.current = 'HALF_OPEN';
    }
    if (this.current === 'HALF_OPEN') {
      const left = this.lastProbe + this.settings.probeEveryMs - t;
      if (left > 0) return { allowed: false, state: 'HALF_OPEN', retryAfterMs: left };
      this.lastProbe = t;
    }
    return { allowed: true };
  }

  /** The outcome of a call `check` allowed: a failure is the service failing, not a refusal it answered. */
  record(success: boolean): void {
    if (this.current === 'HALF_OPEN') {
      if (success) this.close();
      else this.open();
      return;
    }
    this.outcomes.push(success);
    if (this.outcomes.length > this.settings.window) this.outcomes.shift();
    if (this.outcomes.filter((ok) => !ok).length >= this.settings.failures) this.open();
  }

  private open(): void {
    this.current = 'OPEN';
    this.openedAt = this.now();
    this.outcomes = [];
  }

  private close(): void {
    this.current = 'CLOSED';
    this.outcomes = [];
    this.lastProbe = Number.NEGATIVE_INFINITY;
  }
}
