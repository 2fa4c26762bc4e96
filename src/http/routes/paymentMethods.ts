import Router from '@koa/router';
import { z } from 'zod';
import type { Config } from '../../config';
import { setRequireP2PAcceptance } from '../../db/wallets';
import type { DatabasePool } from '../../db/pool';
import { enrollTotp, registerDevice, setPin } from '../../wallet/mfa';
import { ownWallet } from '../../wallet/wallets';
import type { tepAuth } from '../middleware/auth';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const Pin = z.string().regex(/^\d{4,8}$/, 'must be 4 to 8 digits');

const DeviceBody = z
  .object({
    device_id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    device_name: z.string().max(200).optional(),
    platform: z.string().max(40).optional(),
    public_key: z
      .object({
        algorithm: z.enum(['ECDSA_P256', 'RSA']),
        format: z.literal('SPKI'),
        key_data: z.string().min(1).max(4096),
      })
      .strict(),
    biometric_capabilities: z.array(z.string().max(40)).max(10).default([]),
  })
  .strict();

const PinBody = z.object({ pin: Pin, current_pin: Pin.optional() }).strict();
const SettingsBody = z.object({ require_p2p_acceptance: z.boolean() }).strict();

/** How a user proves a payment (PROTO 7.2.1, PROTO-mfa-v1.2 7.4.5), and their wallet's P2P policy. */
export function paymentMethodRoutes(deps: { pool: DatabasePool; config: Pick<Config, 'http'> }, auth: ReturnType<typeof tepAuth>): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/wallet' });

  router.post('/devices/register', auth('wallet:pay'), async (ctx) => {
    const body = parseInput(DeviceBody, ctx.request.body ?? {});
    const result = await registerDevice(deps.pool, ctx.state.tep!.userId, {
      deviceId: body.device_id,
      deviceName: body.device_name,
      platform: body.platform,
      algorithm: body.public_key.algorithm,
      keyData: body.public_key.key_data,
      capabilities: body.biometric_capabilities,
    });
    ctx.status = result.created ? 201 : 200;
    ctx.body = result.body;
  });

  router.post('/pin', auth('wallet:pay'), async (ctx) => {
    const body = parseInput(PinBody, ctx.request.body ?? {});
    const result = await setPin(deps.pool, ctx.state.tep!.userId, body.pin, body.current_pin);
    ctx.status = result.created ? 201 : 200;
    ctx.body = { method: 'pin', status: result.created ? 'set' : 'changed' };
  });

  router.post('/totp/enroll', auth('wallet:pay'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await enrollTotp(deps.pool, ctx.state.tep!.userId, new URL(deps.config.http.publicUrl).host);
  });

  router.put('/settings', auth('wallet:pay'), async (ctx) => {
    const body = parseInput(SettingsBody, ctx.request.body ?? {});
    const wallet = await ownWallet(deps, ctx.state.tep!.userId);
    const updated = await setRequireP2PAcceptance(deps.pool, wallet.id, body.require_p2p_acceptance);
    ctx.body = { wallet_id: updated.id, require_p2p_acceptance: updated.require_p2p_acceptance };
  });

  return router;
}
