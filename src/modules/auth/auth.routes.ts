import type { Api } from '../../platform/http';
import { tokenBody, tokenResponse } from './auth.schemas';
import type { AuthService } from './auth.service';

export function authRoutes(api: Api, auth: AuthService): void {
  api.route(
    { method: 'post', path: '/v1/auth/token', summary: 'Get an access token (password or client_credentials grant)', tag: 'Auth', auth: 'public', body: tokenBody, responses: { 200: { description: 'A bearer token', schema: tokenResponse } } },
    async ({ body }) => ({ status: 200, body: await auth.issueToken(body), headers: { 'Cache-Control': 'no-store' } }),
  );
}
