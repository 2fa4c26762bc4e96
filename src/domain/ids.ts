/**
 * Identifier formats. Every id is `<prefix>_<24 lowercase base32 chars>` (120 random bits), so its
 * kind is readable in logs and the Temporal UI. Generation lives in src/ids.ts (it needs Node's
 * random source); workflows derive their ids from the workflow id instead.
 */
export const ID_PREFIX = {
  wallet: 'tw',
  account: 'acc',
  entry: 'je',
  request: 'req',
  transfer: 'p2p',
  token: 'tok',
  session: 'ses',
  device: 'dev',
  transaction: 'txn',
  miniapp: 'ma',
  deviceGrant: 'dgr',
  webhookEvent: 'evt',
  payment: 'pay',
  mfaChallenge: 'mfa',
  refund: 'ref',
  gift: 'gift',
  suspension: 'sus',
  topup: 'top',
  withdrawal: 'wd',
  externalAccount: 'xa',
  revocation: 'rvk',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function formatId(kind: IdKind, random: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return `${ID_PREFIX[kind]}_${out}`;
}

export function isId(kind: IdKind, value: unknown): value is string {
  return typeof value === 'string' && new RegExp(`^${ID_PREFIX[kind]}_[a-z2-7]{24}$`).test(value);
}
