import { allHandlersFinished, ApplicationFailure, condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { SLOW_DOWN_STEP_MS, type DeviceApproval, type DeviceDecision, type DeviceGrantInput, type DeviceOutcome, type PollAnswer } from '../src/domain/deviceGrant';
import { decideDevice, deviceStatus, pollDevice, type DeviceStatus } from './deviceMessages';
import { workflowNow } from './clock';

const { recordDeviceApproval } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 5 },
});

/** A refusal of a decision, as the API maps it (RFC 8628 wording). */
function refuse(type: 'expired_token' | 'already_decided', message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

/**
 * One Device Authorization Grant (RFC 8628), from the device's request until the device has its
 * tokens, was told no, or the codes expired. The user's decision and the device's polls are
 * Workflow Updates; the polling rules (interval, slow_down) and the expiry live here, on the
 * workflow clock, so they hold across API restarts and several API processes. The API mints the
 * tokens from the one poll answered `approved`.
 */
export async function deviceGrant(input: DeviceGrantInput): Promise<DeviceOutcome> {
  const expiresAt = workflowNow() + input.expiresInMs;
  let status: DeviceStatus = 'pending';
  let approval: DeviceApproval | undefined;
  let intervalMs = input.intervalMs;
  let lastPollAt: number | undefined;
  let deciding = false;
  // The device has learned the outcome (its tokens, or the denial): nothing is left to answer.
  let told = false;

  const expired = () => workflowNow() >= expiresAt;

  setHandler(deviceStatus, () => ({ status: expired() && (status === 'pending' || status === 'approved') ? 'expired' : status, intervalMs }));

  setHandler(
    decideDevice,
    async ({ userId, decision }) => {
      deciding = true;
      try {
        if (decision === 'deny') {
          status = 'denied';
          return { status: 'denied' as const };
        }
        approval = await recordDeviceApproval({ clientId: input.clientId, userId, scopes: input.scopes });
        status = 'approved';
        return { status: 'approved' as const };
      } finally {
        deciding = false;
      }
    },
    {
      validator: (_decision: DeviceDecision) => {
        if (expired()) refuse('expired_token', 'The code has expired');
        if (status !== 'pending' || deciding) refuse('already_decided', 'The code was already used');
      },
    },
  );

  setHandler(pollDevice, (): PollAnswer => {
    const now = workflowNow();
    // RFC 8628 3.5: polled sooner than the interval allows, the device is told to slow down and
    // the interval grows by 5 seconds for the rest of the grant.
    const tooSoon = lastPollAt !== undefined && now - lastPollAt < intervalMs;
    lastPollAt = now;
    if (status === 'redeemed') return { outcome: 'invalid_grant' };
    if (expired()) return { outcome: 'expired_token' };
    if (tooSoon) {
      intervalMs += SLOW_DOWN_STEP_MS;
      return { outcome: 'slow_down', intervalMs };
    }
    if (status === 'denied') {
      told = true;
      return { outcome: 'access_denied' };
    }
    if (status === 'approved' && approval) {
      status = 'redeemed';
      told = true;
      return { outcome: 'approved', approval, scopes: input.scopes };
    }
    return { outcome: 'authorization_pending' };
  });

  await condition(() => told, Math.max(0, expiresAt - workflowNow()));
  await condition(allHandlersFinished);
  // (status is changed by the handlers; the compiler sees only this function's assignments)
  const ended = status as DeviceStatus;
  if (ended === 'redeemed') return 'redeemed';
  if (ended === 'denied' && told) return 'denied';
  return 'expired';
}
