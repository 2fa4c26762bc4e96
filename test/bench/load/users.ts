import { generateKeyPairSync } from 'node:crypto';
import { loadTepKeys } from '../../../src/auth/keys';
import { issueTep } from '../../../src/auth/tep';
import { createDatabasePool } from '../../../src/db/pool';
import { startSession } from '../../../src/oauth/sessions';
import { pinDigest } from '../../../src/factors/pin';
import type { RunningSystem } from './system';
import type { HttpClient } from './httpClient';
import type { P2PClientPlan, ProofMaterial } from './plan';

/** The ordinary mini-app the load comes from, and the messenger (first party), the only one that may enrol payment factors. */
const MINIAPP = 'ma_demo';
const MESSENGER = 'tween_client';
const WALLET_SCOPES = ['wallet:balance', 'wallet:pay', 'wallet:history'];
const PIN = '4821';
const DEVICE_ID = 'bench-phone';
/** Tokens outlive the longest run (the API does not cap a TEP's lifetime). */
const TOKEN_TTL_SECONDS = 12 * 3600;
const PREPARE_CONCURRENCY = 8;

export interface BenchUser {
  userId: string;
  /** TEP of the mini-app ma_demo with the wallet scopes. */
  token: string;
  /** TEP of the messenger, for enrolling payment factors. */
  messenger: string;
  walletId: string;
}

/** What the balance check needs: every wallet this run made, with the balance its answers imply (minor units). */
export interface WalletExpectation {
  label: string;
  token: string;
  walletId: string;
  expectedMinor: number;
}

export interface Preparer {
  user(userId: string, fundMinor: number): Promise<BenchUser>;
  enrol(user: BenchUser, method: ProofMaterial['method']): Promise<ProofMaterial>;
  /** Every wallet made so far; transfers are booked on it with `settle`. */
  wallets: Map<string, WalletExpectation>;
  settle(sender: BenchUser, recipient: BenchUser, count: number, amountMinor: number): void;
  /** A TEP of ma_demo with the storage scopes. */
  storageToken(userId: string): Promise<string>;
  /** Payments to a mini-app (its merchant account is not a wallet). */
  pay(payer: BenchUser, count: number, amountMinor: number): void;
  /** `count` top-ups of `amountMinor` credited to `user`. */
  credit(user: BenchUser, count: number, amountMinor: number): void;
}

/** Minor units of a two-decimal currency as the API's decimal string. */
export function decimal(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * Makes users the way a messenger and a mini-app would: TEPs minted in-process with the server's
 * signing key (as `npm run token` does), a wallet through the API, funds from the operator
 * endpoint, and a payment factor enrolled by the messenger.
 */
export async function preparer(options: { http: HttpClient; adminToken: string; tepKeysFile: string; issuer: string }): Promise<Preparer> {
  const { http } = options;
  const keys = await loadTepKeys(options.tepKeysFile);
  const mint = async (userId: string, clientId: string, scopes: string[] = WALLET_SCOPES) =>
    (await issueTep(keys, { issuer: options.issuer, ttlSeconds: TOKEN_TTL_SECONDS }, { userId, clientId, scopes, walletId: null })).token;
  const wallets = new Map<string, WalletExpectation>();

  return {
    wallets,
    storageToken: (userId) => mint(userId, MINIAPP, ['storage:read', 'storage:write']),
    async user(userId, fundMinor) {
      const [token, messenger] = await Promise.all([mint(userId, MINIAPP), mint(userId, MESSENGER)]);
      const { wallet_id: walletId } = await http.json('POST', '/api/v1/wallet/register', [201], { token, json: {} });
      if (fundMinor > 0) {
        await http.json('POST', `/api/v1/admin/wallets/${walletId}/fund`, [201], {
          token: options.adminToken,
          json: { amount: decimal(fundMinor), currency: 'USD', idempotency_key: `bench-fund-${walletId}` },
        });
      }
      wallets.set(walletId, { label: userId, token, walletId, expectedMinor: fundMinor });
      return { userId, token, messenger, walletId };
    },
    async enrol(user, method) {
      if (method === 'pin') {
        await http.json('POST', '/api/v1/wallet/pin', [201], { token: user.messenger, json: { pin: PIN } });
        return { method: 'pin', hashedPin: pinDigest(PIN), deviceId: DEVICE_ID };
      }
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await http.json('POST', '/api/v1/wallet/devices/register', [201], {
        token: user.messenger,
        json: {
          device_id: DEVICE_ID,
          device_name: 'Load benchmark',
          platform: 'bench',
          public_key: { algorithm: 'ECDSA_P256', format: 'SPKI', key_data: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') },
        },
      });
      return { method: 'biometric', deviceId: DEVICE_ID, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
    },
    settle(sender, recipient, count, amountMinor) {
      wallets.get(sender.walletId)!.expectedMinor -= count * amountMinor;
      wallets.get(recipient.walletId)!.expectedMinor += count * amountMinor;
    },
    credit(user, count, amountMinor) {
      wallets.get(user.walletId)!.expectedMinor += count * amountMinor;
    },
    pay(payer, count, amountMinor) {
      wallets.get(payer.walletId)!.expectedMinor -= count * amountMinor;
    },
  };
}

/** `n` funded senders, each with its own recipient and the given payment factor. */
export async function p2pPairs(
  prepare: Preparer,
  options: { prefix: string; count: number; method: ProofMaterial['method']; fundMinor: number },
): Promise<{ sender: BenchUser; recipient: BenchUser; plan: P2PClientPlan }[]> {
  return mapLimit(Array.from({ length: options.count }, (_, i) => i), PREPARE_CONCURRENCY, async (i) => {
    const sender = await prepare.user(`@${options.prefix}_${i}_s:localhost`, options.fundMinor);
    const recipient = await prepare.user(`@${options.prefix}_${i}_r:localhost`, 0);
    const proof = await prepare.enrol(sender, options.method);
    return { sender, recipient, plan: { senderToken: sender.token, recipientUserId: recipient.userId, proof } };
  });
}

/** One OAuth session per user for `clientId`, recorded as a grant records it; answers the first refresh token of each. */
export async function seedSessions(system: RunningSystem, clientId: string, users: readonly BenchUser[]): Promise<string[]> {
  const pool = await createDatabasePool(system.databaseUrl, { maximumPoolSize: 4 });
  try {
    const keys = await loadTepKeys(system.tepKeysFile);
    const deps = { pool, keys, config: { tep: { ttlSeconds: TOKEN_TTL_SECONDS, refreshTtlSeconds: TOKEN_TTL_SECONDS }, http: { publicUrl: system.issuer } } };
    return await mapLimit(users, PREPARE_CONCURRENCY, async (u) => (await startSession(deps, { userId: u.userId, clientId, scopes: ['wallet:balance'], walletId: u.walletId })).refresh_token);
  } finally {
    await pool.end();
  }
}
