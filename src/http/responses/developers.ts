import { z } from 'zod';
import { developers, developerTokenForMatrixUser, enroll, logout, refreshDeveloperToken, unenroll } from '../../developers/accounts';
import { appeal, myApp, myApps, registerApp, reviewApp, updateApp } from '../../developers/apps';
import { CLIENT_TYPES, MINIAPP_STATUSES } from '../../domain/miniapps';
import { MiniappAnswer } from './admin';
import { describes, Instant } from './common';

export const DeveloperView = describes(
  z.object({ developer_id: z.string(), status: z.enum(['active', 'revoked']), roles: z.array(z.string()), created_at: Instant, revoked_at: Instant.optional() }),
  unenroll,
);
export const DeveloperList = describes(z.object({ developers: z.array(DeveloperView) }), developers);

/** PROTO 4.4.3's token answer, without its `organizations`: this server keeps none (docs/protocol.md, 4.4). */
const TokenPair = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  developer_id: z.string(),
});
export const DeveloperTokenAnswer = describes(
  TokenPair.extend({ roles: z.array(z.string()).optional() }),
  developerTokenForMatrixUser,
  refreshDeveloperToken,
);
export const DeveloperEnrolled = describes(DeveloperView.merge(TokenPair), enroll);
export const DeveloperLogout = describes(z.object({ revoked: z.boolean(), message: z.string() }), logout);

/** PROTO 9.1.1's answer: the app waits for review; its secrets are here once. */
export const RegisteredApp = describes(
  z.object({
    miniapp_id: z.string(),
    status: z.enum(MINIAPP_STATUSES),
    client_type: z.enum(CLIENT_TYPES),
    credentials: z.union([
      z.object({
        public_client: z.object({ client_id: z.string(), description: z.string() }),
        confidential_client: z.object({ client_id: z.string(), client_secret: z.string(), description: z.string() }),
        webhook_secret: z.string().optional(),
      }),
      z.object({ client_id: z.string(), client_secret: z.string().optional(), webhook_secret: z.string().optional() }),
    ]),
    created_at: Instant,
  }),
  registerApp,
);

const OwnApp = MiniappAnswer.extend({ miniapp_id: z.string() });
export const DeveloperAppList = describes(z.object({ mini_apps: z.array(OwnApp) }), myApps);
export const DeveloperApp = describes(
  OwnApp.extend({ reviews: z.array(z.object({ action: z.string(), actor: z.string(), reason: z.string().optional(), at: Instant })) }),
  myApp,
  reviewApp,
);
export const UpdatedApp = describes(OwnApp.extend({ webhook_secret: z.string().optional() }), updateApp);
export const AppAppeal = describes(z.object({ miniapp_id: z.string(), status: z.literal('under_review'), app_status: z.literal('appeal') }), appeal);
