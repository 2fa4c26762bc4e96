import { CircuitBreaker } from '../../src/domain/circuitBreaker';

function breaker() {
  let t = 1_000_000;
  const b = new CircuitBreaker(undefined, () => t);
  return { b, advance: (ms: number) => (t += ms) };
}

const call = (b: CircuitBreaker, success: boolean) => {
  const verdict = b.check();
  if (verdict.allowed) b.record(success);
  return verdict;
};

test('stays closed below 5 failures in the last 10 calls, and opens on the fifth', () => {
  const { b } = breaker();
  for (const ok of [false, true, false, true, false, true, false, true]) call(b, ok);
  expect(b.state).toBe('CLOSED');
  // The oldest failure has left the window of 10 by the time the next two arrive.
  call(b, true);
  call(b, true);
  call(b, false);
  expect(b.state).toBe('CLOSED');
  call(b, false);
  expect(b.state).toBe('OPEN');
});

test('answers at once while open, for 60 s, saying how long is left', () => {
  const { b, advance } = breaker();
  for (let i = 0; i < 5; i += 1) call(b, false);
  expect(b.check()).toEqual({ allowed: false, state: 'OPEN', retryAfterMs: 60_000 });
  advance(45_000);
  expect(b.check()).toEqual({ allowed: false, state: 'OPEN', retryAfterMs: 15_000 });
});

test('half-open lets one test call through every 10 s; a success closes it, a failure opens it again', () => {
  const { b, advance } = breaker();
  for (let i = 0; i < 5; i += 1) call(b, false);
  advance(60_000);
  expect(b.check()).toEqual({ allowed: true });
  expect(b.state).toBe('HALF_OPEN');
  expect(b.check()).toEqual({ allowed: false, state: 'HALF_OPEN', retryAfterMs: 10_000 });
  b.record(false);
  expect(b.state).toBe('OPEN');
  advance(60_000);
  expect(call(b, true)).toEqual({ allowed: true });
  expect(b.state).toBe('CLOSED');
  expect(b.check()).toEqual({ allowed: true });
});
