/** Mini-app client ids: `ma_` and 1 to 64 lowercase letters, digits or `_` (also the localpart of the mini-app's bot). */
export const MINIAPP_CLIENT_ID = /^ma_[a-z0-9_]{1,64}$/;

export function isMiniappClientId(value: string): boolean {
  return MINIAPP_CLIENT_ID.test(value);
}
