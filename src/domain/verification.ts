/**
 * Verification levels (PROTO 6.4). The protocol leaves the tiers to the wallet operator; these are
 * ours. Limits live on each wallet (set from configuration at registration).
 */
export const VERIFICATION_LEVELS = {
  0: { name: 'Unverified', features: { p2p_send: false, p2p_receive: true, miniapp_payments: false, withdrawals: false }, requirements: ['phone_number'] },
  1: { name: 'Basic', features: { p2p_send: true, p2p_receive: true, miniapp_payments: true, withdrawals: true }, requirements: ['government_id'] },
  2: { name: 'ID Verified', features: { p2p_send: true, p2p_receive: true, miniapp_payments: true, withdrawals: true }, requirements: ['address_proof', 'enhanced_id'] },
  3: { name: 'Enhanced', features: { p2p_send: true, p2p_receive: true, miniapp_payments: true, withdrawals: true }, requirements: [] },
} as const;

export type VerificationLevel = keyof typeof VERIFICATION_LEVELS;

export function verificationLevel(level: number): (typeof VERIFICATION_LEVELS)[VerificationLevel] {
  return VERIFICATION_LEVELS[(level in VERIFICATION_LEVELS ? level : 0) as VerificationLevel];
}

export const MAX_VERIFICATION_LEVEL = 3;
