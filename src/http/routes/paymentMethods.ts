import Router from '@koa/router';
import { z } from 'zod';
import type { Config } from '../../config';
import type { DatabasePool } from '../../db/pool';
import { enrollTotp, registerDevice, setPin } from '../../factors/enrolment';
import type { ProofDeps } from '../../factors/proofs';
import { setWalletSettings } from '../../wallet/wallets';
import type { CallerGates } from '../middleware/auth';
import { documented } from '../openapi/routeDoc';
import { DeviceAnswer, PinAnswer, TotpAnswer, WalletSettingsAnswer } from '../responses/wallet';
import type { RateLimit } from '../middleware/rateLimit';
import { AuthProof, DeviceId } from '../schemas';
import type { AppState } from '../state';
import { parseInput } from '../validate';

const Pin = z.string().regex(/^\d{4,8}$/, 'must be 4 to 8 digits');

const DeviceBody = z
  .object({
    device_id: DeviceId.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
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
    auth_proof: AuthProof.optional(),
  })
  .strict();

const PinBody = z.object({ pin: Pin, auth_proof: AuthProof.optional() }).strict();
const TotpBody = z.object({ auth_proof: AuthProof.optional() }).strict();
const SettingsBody = z
  .object({ require_p2p_acceptance: z.boolean().optional(), require_payment_mfa: z.boolean().optional() })
  .strict()
  .refine((b) => b.require_p2p_acceptance !== undefined || b.require_payment_mfa !== undefined, 'must set require_p2p_acceptance or require_payment_mfa');

const doc = {
  device: documented({ summary: "Register a device's key for biometric proofs (201; 200 when the same key is there)", callers: ['messenger'], body: DeviceBody, responses: { 200: DeviceAnswer, 201: DeviceAnswer } }),
  pin: documented({ summary: 'Set the payment PIN (201), or change it (200)', callers: ['messenger'], body: PinBody, responses: { 200: PinAnswer, 201: PinAnswer } }),
  totp: documented({ summary: 'Enrol TOTP: the otpauth:// URI, shown once', callers: ['messenger'], body: TotpBody, responses: { 201: TotpAnswer } }),
  settings: documented({ summary: "The wallet's P2P acceptance and payment MFA policies", callers: ['messenger'], body: SettingsBody, responses: { 200: WalletSettingsAnswer } }),
};

/**
 * How a user proves a payment (PROTO 7.2.1, PROTO-mfa-v1.2 7.4.5), and their wallet's P2P policy.
 * Only the user's own messenger may call these (messengerAuth); once a factor is set up, adding or
 * changing one takes a proof of an existing one (`auth_proof`).
 */
export function paymentMethodRoutes(
  deps: ProofDeps & { pool: DatabasePool; config: Pick<Config, 'http'> },
  auth: CallerGates['messenger'],
  limit: RateLimit,
): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/devices/register', doc.device, auth('wallet:pay'), limit('default'), async (ctx) => {
    const body = parseInput(DeviceBody, ctx.request.body ?? {});
    const result = await registerDevice(
      deps,
      ctx.state.messengerUser!,
      {
        deviceId: body.device_id,
        deviceName: body.device_name,
        platform: body.platform,
        algorithm: body.public_key.algorithm,
        keyData: body.public_key.key_data,
        capabilities: body.biometric_capabilities,
      },
      body.auth_proof,
    );
    ctx.status = result.created ? 201 : 200;
    ctx.body = result.body;
  });

  router.post('/pin', doc.pin, auth('wallet:pay'), limit('default'), async (ctx) => {
    const body = parseInput(PinBody, ctx.request.body ?? {});
    const result = await setPin(deps, ctx.state.messengerUser!, body.pin, body.auth_proof);
    ctx.status = result.created ? 201 : 200;
    ctx.body = { method: 'pin', status: result.created ? 'set' : 'changed' } satisfies z.input<typeof PinAnswer>;
  });

  router.post('/totp/enroll', doc.totp, auth('wallet:pay'), limit('default'), async (ctx) => {
    const body = parseInput(TotpBody, ctx.request.body ?? {});
    ctx.status = 201;
    ctx.body = await enrollTotp(deps, ctx.state.messengerUser!, new URL(deps.config.http.publicUrl).host, body.auth_proof);
  });

  router.put('/settings', doc.settings, auth('wallet:pay'), limit('default'), async (ctx) => {
    const body = parseInput(SettingsBody, ctx.request.body ?? {});
    ctx.body = await setWalletSettings(deps, ctx.state.messengerUser!, { requireP2PAcceptance: body.require_p2p_acceptance, requirePaymentMfa: body.require_payment_mfa });
  });

  return router;
}
