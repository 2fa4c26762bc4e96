import { z } from 'zod';

/** Matrix AS API: the `tween` protocol, with no fields to look anything up by. */
export const ThirdPartyProtocol = z.object({
  user_fields: z.array(z.string()),
  location_fields: z.array(z.string()),
  icon: z.string(),
  field_types: z.record(z.object({ regexp: z.string(), placeholder: z.string() })),
  instances: z.array(z.object({ network_id: z.string(), desc: z.string(), fields: z.record(z.string()) })),
});

/** Tween has no third-party users or locations: every lookup finds none. */
export const NoThirdPartyMatches = z.array(z.unknown()).max(0);
