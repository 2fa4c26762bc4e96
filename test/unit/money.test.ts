import { amountToJson, formatAmount, parseAmount } from '../../src/domain/money';

test.each([
  [12.5, 'USD', 1250n],
  ['12.50', 'USD', 1250n],
  [0.01, 'USD', 1n],
  [5000, 'USD', 500000n],
  ['5000.00', 'NGN', 500000n],
  [1500, 'JPY', 1500n],
  ['1500.000', 'JPY', 1500n],
  [0.3, 'EUR', 30n],
  [99999999999.99, 'USD', 9999999999999n],
] as const)('parses %p %s as %p minor units', (value, currency, minor) => {
  expect(parseAmount(value, currency)).toBe(minor);
});

test.each([
  [-1, 'must be positive'],
  [0, 'must be positive'],
  ['0.00', 'must be positive'],
  [1.001, 'at most 2 decimal places'],
  [0.1 + 0.2, 'at most 2 decimal places'],
  ['1e3', 'plain decimal'],
  ['01.00', 'plain decimal'],
  [Number.NaN, 'finite'],
  [Number.POSITIVE_INFINITY, 'finite'],
  [true, 'must be a number'],
  ['10000000000000.01', 'too large'],
])('refuses %p (%s)', (value, reason) => {
  expect(() => parseAmount(value, 'USD')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', details: { field: 'amount', reason: expect.stringContaining(reason) } }));
});

test('JPY has no minor unit', () => {
  expect(() => parseAmount(1.5, 'JPY')).toThrow(/at most 0 decimal places/);
});

test('formats minor units exactly', () => {
  expect(formatAmount(1n, 'USD')).toBe('0.01');
  expect(formatAmount(-1250n, 'USD')).toBe('-12.50');
  expect(formatAmount(1500n, 'JPY')).toBe('1500');
  expect(amountToJson(9999999999999n, 'USD')).toBe(99999999999.99);
  for (let minor = 0n; minor < 2000n; minor += 7n) {
    expect(parseAmount(amountToJson(minor + 1n, 'USD'), 'USD')).toBe(minor + 1n);
  }
});
