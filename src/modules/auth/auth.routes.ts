import type { Api } from '../../platform/http';
import { changePasswordBody, tokenBody, tokenResponse } from './auth.schemas';
import type { AuthService } from './auth.service';

const PEOPLE = ['admin', 'clerk', 'council', 'officer', 'household'] as const;

export function authRoutes(api: Api, auth: AuthService): void {
  api.route(
    {
      method: 'post',
      path: '/v1/auth/token',
      summary: 'Get an access token (password or client_credentials grant)',
      tag: 'Auth',
      auth: 'public',
      body: tokenBody,
      responses: { 200: { description: 'A bearer token', schema: tokenResponse } },
    },
    async ({ body, clientAddress }) => ({
      status: 200,
      body: await auth.issueToken(body, clientAddress),
      headers: { 'Cache-Control': 'no-store' },
    }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/me/password',
      summary:
        'Change your own password (the current one is required); every token of yours stops working, so sign in again',
      tag: 'Auth',
      auth: PEOPLE,
      body: changePasswordBody,
      responses: { 204: { description: 'Changed; sign in again with the new password' } },
    },
    async ({ principal, body, clientAddress }) => {
      await auth.changeOwnPassword(principal, body, clientAddress);
      return { status: 204 };
    },
  );
}
