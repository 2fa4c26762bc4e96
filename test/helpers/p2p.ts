import { randomBytes } from 'node:crypto';
import { pinDigest } from '../../src/factors/pin';
import { loadConfig } from '../../src/config';
import type { DatabasePool } from '../../src/db/pool';
import { totpSealer } from '../../src/factors/totp';
import { type ProofDeps } from '../../src/factors/proofs';
import { ADMIN_TOKEN, TEST_DATA_KEY, type ApiClient, type ApiResponse } from './api';

export const ALL_WALLET_SCOPES = ['wallet:balance', 'wallet:pay', 'wallet:history'];
export const PIN = '4821';

export interface TestUser {
  userId: string;
  /** A TEP of the ordinary mini-app ma_demo, with the wallet scopes. */
  token: string;
  /** A TEP of the user's own messenger (first-party client tween_client): it may enrol payment factors. */
  messenger: string;
  walletId: string;
}

/** The first-party client of the development registry (config/miniapps.dev.yaml): the messenger. */
export const MESSENGER_CLIENT = 'tween_client';

let counter = 0;
export function newUserId(name = 'user'): string {
  counter += 1;
  return `@${name}${counter}_${randomBytes(3).toString('hex')}:tmcp.test`;
}

/** A user (a new one, or `userId`) with a wallet, optional funds (decimal string) and, unless `pin: false`, a payment PIN. */
export async function walletUser(
  api: ApiClient,
  options: { name?: string; userId?: string; fund?: string; pin?: boolean; currency?: string } = {},
): Promise<TestUser> {
  const userId = options.userId ?? newUserId(options.name);
  const token = await api.token(userId, ALL_WALLET_SCOPES);
  const messenger = await api.token(userId, ALL_WALLET_SCOPES, MESSENGER_CLIENT);
  const reg = await api.call('POST', '/api/v1/wallet/register', { token, body: options.currency ? { currency: options.currency } : {} });
  if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
  const walletId = reg.body.wallet_id as string;
  if (options.fund) {
    const funded = await api.call('POST', `/api/v1/admin/wallets/${walletId}/fund`, {
      token: ADMIN_TOKEN,
      body: { amount: options.fund, currency: options.currency ?? 'USD', idempotency_key: `fund-${walletId}` },
    });
    if (funded.status !== 200 && funded.status !== 201) throw new Error(`fund failed: ${JSON.stringify(funded.body)}`);
  }
  if (options.pin !== false) {
    const set = await api.call('POST', '/api/v1/wallet/pin', { token: messenger, body: { pin: PIN } });
    if (set.status !== 201) throw new Error(`pin failed: ${JSON.stringify(set.body)}`);
  }
  return { userId, token, messenger, walletId };
}

export function pinProof(pin = PIN, deviceId = 'device_test') {
  return { auth_proof: { method: 'pin', proof: { hashed_pin: pinDigest(pin), device_id: deviceId } } };
}

/** What the API and worker need to check proofs, on a test database (the default lockout policy). */
export function testProofDeps(pool: DatabasePool, now: () => Date = () => new Date()): ProofDeps {
  const config = loadConfig({ NODE_ENV: 'test' });
  return { pool, now, lockout: config.lockout, totpSealer: totpSealer(Buffer.from(TEST_DATA_KEY, 'hex')) };
}

export function initiate(api: ApiClient, from: TestUser, body: Record<string, unknown>): Promise<ApiResponse> {
  return api.call('POST', '/api/v1/wallet/p2p/initiate', {
    token: from.token,
    body: { currency: 'USD', idempotency_key: `k-${randomBytes(6).toString('hex')}`, ...body },
  });
}

export function confirm(api: ApiClient, user: TestUser, transferId: string, body: unknown = pinProof()): Promise<ApiResponse> {
  return api.call('POST', `/api/v1/wallet/p2p/${transferId}/confirm`, { token: user.token, body });
}

export async function available(api: ApiClient, user: TestUser): Promise<number> {
  const res = await api.call('GET', '/api/v1/wallet/balance', { token: user.token });
  return res.body.balance.available as number;
}

export function expectError(res: { status: number; body: any }, status: number, code: string, field?: string): void {
  if (res.status !== status || res.body?.error?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  if (field !== undefined && res.body.error.details?.field !== field) {
    throw new Error(`expected field ${field}, got ${JSON.stringify(res.body.error.details)}`);
  }
}
