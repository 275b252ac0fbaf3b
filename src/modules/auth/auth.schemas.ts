import { credential, obj, z } from '../../platform/validation';

const secret = credential(256);

export const tokenBody = z
  .discriminatedUnion('grantType', [
    obj({ grantType: z.literal('password'), username: credential(64), password: secret }),
    obj({ grantType: z.literal('client_credentials'), clientId: credential(64), clientSecret: secret }),
  ])
  .openapi('TokenRequest');

export const tokenResponse = z
  .object({ accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number().int() })
  .openapi('TokenResponse');
