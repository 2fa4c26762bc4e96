import { z } from 'zod';
import { capabilitiesFor } from '../../miniapps/capabilities';
import { AmountAnswer, CurrencyCode, describes } from './common';

/** PROTO 10.5.2, as far as the server can answer it. */
export const CapabilitiesAnswer = describes(
  z.object({
    capabilities: z.object({
      payment: z.object({ available: z.boolean(), providers: z.array(z.string()), max_amount: AmountAnswer.optional(), currency: CurrencyCode.optional() }),
      storage: z.object({ available: z.boolean(), quota_bytes: z.number().int(), persistent: z.boolean() }),
      messaging: z.object({ available: z.boolean(), rich_cards: z.boolean(), file_upload: z.boolean() }),
      biometric: z.object({ available: z.boolean(), types: z.array(z.string()) }),
    }),
    platform: z.object({ tmcp_version: z.string() }),
    features: z.record(z.boolean()),
  }),
  capabilitiesFor,
);
