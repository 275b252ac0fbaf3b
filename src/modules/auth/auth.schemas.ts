import { credential, obj, z } from '../../platform/validation';

const secret = credential(256);

export const tokenBody = z
  .discriminatedUnion('grantType', [
    obj({ grantType: z.literal('password'), username: credential(64), password: secret }),
    obj({
      grantType: z.literal('client_credentials'),
      clientId: credential(64),
      clientSecret: secret,
    }),
  ])
  .openapi('TokenRequest');

export const tokenResponse = z
  .object({ accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number().int() })
  .openapi('TokenResponse');

/** A new password: the same rule as when a user is created. */
export const newPassword = () =>
  credential(256).refine(
    (s) => [...s].length >= 10,
    'at least 10 characters (Unicode code points)',
  );

export const changePasswordBody = obj({
  currentPassword: secret,
  newPassword: newPassword(),
}).openapi('PasswordChange');
