import { invalidField } from './errors';

/**
 * ISO 4217 currencies the ledger accepts, with their minor-unit exponent. The database's
 * `currencies` table is seeded with the same list (a test keeps the two equal).
 */
export const CURRENCIES = {
  USD: { exponent: 2, name: 'US Dollar', symbol: '$' },
  EUR: { exponent: 2, name: 'Euro', symbol: '€' },
  GBP: { exponent: 2, name: 'Pound Sterling', symbol: '£' },
  NGN: { exponent: 2, name: 'Naira', symbol: '₦' },
  KES: { exponent: 2, name: 'Kenyan Shilling', symbol: 'KSh ' },
  GHS: { exponent: 2, name: 'Ghana Cedi', symbol: 'GH₵' },
  ZAR: { exponent: 2, name: 'Rand', symbol: 'R ' },
  JPY: { exponent: 0, name: 'Yen', symbol: '¥' },
} as const;

export type Currency = keyof typeof CURRENCIES;

/** Largest amount accepted in one movement, in minor units: far above any limit, far below 2^53. */
export const MAX_MINOR_AMOUNT = 10n ** 15n;

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && Object.hasOwn(CURRENCIES, value);
}

export function parseCurrency(value: unknown, field = 'currency'): Currency {
  if (typeof value !== 'string') throw invalidField(field, 'must be a string');
  if (!isCurrency(value)) {
    throw invalidField(field, `unsupported currency '${value}', expected one of ${Object.keys(CURRENCIES).join(', ')}`);
  }
  return value;
}

const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/**
 * Converts a decimal amount as the API speaks it (JSON number `12.5` or string `"12.50"`) to exact
 * minor units. JavaScript prints a parsed double back as its shortest round-trip form, so the
 * digits the client wrote are the digits we see; anything needing more decimals than the currency
 * has is rejected rather than rounded.
 */
export function parseAmount(value: unknown, currency: Currency, field = 'amount'): bigint {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidField(field, 'must be a finite number');
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw invalidField(field, 'must be a number');
  }
  if (text.startsWith('-')) throw invalidField(field, 'must be positive');
  const match = DECIMAL.exec(text);
  if (!match) throw invalidField(field, 'must be a plain decimal number');
  const [, whole = '0', fraction = ''] = match;
  const { exponent } = CURRENCIES[currency];
  const significantFraction = fraction.replace(/0+$/, '');
  if (significantFraction.length > exponent) {
    throw invalidField(field, `${currency} allows at most ${exponent} decimal places`);
  }
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(significantFraction.padEnd(exponent, '0') || '0');
  if (minor <= 0n) throw invalidField(field, 'must be positive');
  if (minor > MAX_MINOR_AMOUNT) throw invalidField(field, 'is too large');
  return minor;
}

/** Minor units to the decimal string the currency prints, e.g. 150n USD -> "1.50". */
export function formatAmount(minor: bigint, currency: Currency): string {
  const { exponent } = CURRENCIES[currency];
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}

/**
 * Minor units as the JSON number PROTO shows (`5000.00` prints as 5000). Exact for every amount
 * below MAX_MINOR_AMOUNT because such decimals round-trip through a double.
 */
export function amountToJson(minor: bigint, currency: Currency): number {
  return Number(formatAmount(minor, currency));
}

/**
 * For people: symbol and thousands separators, e.g. 500000n USD -> "$5,000.00". Written out rather
 * than Intl.NumberFormat so workflow code gets the same text on every replay and Node version.
 */
export function displayAmount(minor: bigint, currency: Currency): string {
  const [whole = '0', fraction] = formatAmount(minor < 0n ? -minor : minor, currency).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${minor < 0n ? '-' : ''}${CURRENCIES[currency].symbol}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
}
