import type { AppContext } from './state';

/**
 * client_secret_basic (RFC 6749 2.3.1): form-encoded id and secret in `Authorization: Basic`.
 * Undefined without Basic credentials; null when they are malformed.
 */
export function basicCredentials(ctx: AppContext): { clientId: string; secret: string } | null | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(ctx.get('authorization'));
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const unform = (text: string) => {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
  };
  const clientId = unform(decoded.slice(0, colon));
  const secret = unform(decoded.slice(colon + 1));
  return clientId === undefined || secret === undefined ? null : { clientId, secret };
}
