import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, type Dispatcher } from 'undici';

/**
 * Where webhooks may go. A mini-app controls its webhook URL and its DNS: without a check it could
 * aim our signed POSTs at loopback, the private network or a cloud's link-local metadata address,
 * and read the answers' statuses back in the delivery log. In production only public unicast
 * addresses are reached; WEBHOOK_ALLOW_PRIVATE_DESTINATIONS lets development and tests use loopback.
 */

/** Whether an address is public unicast: not loopback, private, link-local, CGNAT, multicast, reserved or unspecified. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) parsed = parsed.toIPv4Address();
  return parsed.range() === 'unicast';
}

/** Why a URL's host is refused without resolving it (a literal address or localhost), or undefined. */
export function literalDestinationRefusal(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is a loopback name`;
  if (isIP(host) && !isPublicAddress(host)) return `${host} is not a public address`;
  return undefined;
}

export class DestinationRefused extends Error {}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** How names are resolved (node:dns lookup; tests hand in their own). */
export type Resolver = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** DNS as the socket asks for it, refusing a name any of whose addresses is not public (the connection uses what was checked). */
function publicLookup(resolve: Resolver) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      if (refused || addresses.length === 0) {
        return callback(new DestinationRefused(`${hostname} resolves to ${refused?.address ?? 'nothing'}, not a public address`), []);
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** The HTTP dispatcher of webhook deliveries: public destinations only, unless private ones are allowed. */
export function webhookDispatcher(allowPrivate: boolean, resolve: Resolver = lookup): Dispatcher {
  return allowPrivate ? new Agent() : new Agent({ connect: { lookup: publicLookup(resolve) } });
}
