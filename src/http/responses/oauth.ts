import { z } from 'zod';
import { redeemAuthorizationCode } from '../../oauth/authorizationCode';
import { introspectToken } from '../../oauth/clientTokens';
import { approveScopes, listConsents } from '../../oauth/consent';
import { authorizeDevice, decideDeviceGrant, pollDeviceGrant } from '../../oauth/deviceGrant';
import type { OAuthError } from '../../oauth/errors';
import { revokeMiniappAccess } from '../../oauth/revocation';
import { refreshSession } from '../../oauth/sessions';
import { exchangeMatrixToken, TEP_TOKEN_TYPE } from '../../oauth/tokenExchange';
import { describes, Instant } from './common';

/**
 * RFC 6749 5.1: every grant's tokens. The token exchange (RFC 8693) adds its token type and the
 * delegation; the grants that start from a user's approval add the user and wallet.
 */
export const TokenAnswer = describes(
  z.object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string(),
    scope: z.string(),
    issued_token_type: z.literal(TEP_TOKEN_TYPE).optional(),
    user_id: z.string().optional(),
    wallet_id: z.string().optional(),
    delegated_session: z.literal(true).optional(),
  }),
  refreshSession,
  redeemAuthorizationCode,
  pollDeviceGrant,
  exchangeMatrixToken,
);

/** RFC 8628 3.2. */
export const DeviceAuthorizationAnswer = describes(
  z.object({
    device_code: z.string(),
    user_code: z.string(),
    verification_uri: z.string().url(),
    verification_uri_complete: z.string().url(),
    expires_in: z.number().int(),
    interval: z.number().int(),
  }),
  authorizeDevice,
);

/** The messenger's answer to a device's user code. */
export const DeviceDecisionAnswer = z.object({
  status: describes(z.enum(['approved', 'denied']), decideDeviceGrant),
  client_id: z.string(),
  client_name: z.string(),
  scopes: z.array(z.string()),
});

/** RFC 7662 2.2: a TEP's claims, or a refresh token's fewer; anything else only `active: false`. */
export const IntrospectionAnswer = describes(
  z.union([
    z.object({
      active: z.literal(true),
      token_type: z.enum(['access_token', 'refresh_token']),
      scope: z.string(),
      client_id: z.string(),
      sub: z.string(),
      aud: z.union([z.string(), z.array(z.string())]).optional(),
      iss: z.string().optional(),
      exp: z.number().int(),
      iat: z.number().int().optional(),
      nbf: z.number().int().optional(),
      jti: z.string().optional(),
      session_id: z.string(),
      // A TEP minted before the user had a wallet carries null.
      wallet_id: z.string().nullable().optional(),
    }),
    z.object({ active: z.literal(false) }),
  ]),
  introspectToken,
);

/** One mini-app's approvals by the user. */
const AppConsent = z.object({ client_id: z.string(), scopes: z.array(z.string()), first_granted_at: Instant });

export const ConsentAnswer = describes(AppConsent.extend({ user_id: z.string() }), approveScopes);
export const ConsentList = describes(z.object({ user_id: z.string(), consents: z.array(AppConsent) }), listConsents);

/** PROTO 5.6: what withdrawing a mini-app's access ended. */
export const AccessRevoked = describes(
  z.object({
    user_id: z.string(),
    client_id: z.string(),
    revoked: z.literal(true),
    revoked_sessions: z.number().int(),
    withdrawn_scopes: z.array(z.string()),
    revoked_at: Instant,
  }),
  revokeMiniappAccess,
);

/** RFC 8414 2: the fields this server publishes. */
export const AuthorizationServerMetadata = z.object({
  issuer: z.string().url(),
  token_endpoint: z.string().url(),
  introspection_endpoint: z.string().url(),
  revocation_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  authorization_endpoint: z.string().url(),
  device_authorization_endpoint: z.string().url(),
  grant_types_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  response_modes_supported: z.array(z.string()),
  code_challenge_methods_supported: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  introspection_endpoint_auth_methods_supported: z.array(z.string()),
  revocation_endpoint_auth_methods_supported: z.array(z.string()),
});

/**
 * RFC 6749 5.2 (and RFC 8693 2.2.2): the token, device, introspection and revocation endpoints'
 * refusals, not PROTO's error body. Some add fields (`interval`, `consent_required_scopes`, ...).
 * Not wired into /openapi.json yet: the generator gives every route PROTO's error as `default`.
 */
export const OAuthErrorAnswer = describes(z.object({ error: z.string(), error_description: z.string() }).passthrough(), (err: OAuthError) => err.body);
