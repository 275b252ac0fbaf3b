/** Account administration by the county office (admin): see accounts.service.ts. */
import type { Api } from '../../platform/http';
import { id, obj, z } from '../../platform/validation';
import { newPassword } from '../auth/auth.schemas';
import {
  getAccount,
  resetAccountPassword,
  revokeAccountTokens,
  setAccountDisabled,
} from './accounts.service';
import { accountSchema } from './users.schemas';

const params = obj({ id: id() });

export function accountRoutes(api: Api, deps: { kdfLog2N: number }): void {
  api.route(
    {
      method: 'get',
      path: '/v1/users/:id',
      summary: 'An account and its state',
      tag: 'Organisation',
      auth: ['admin'],
      params,
      responses: { 200: { description: 'The account', schema: accountSchema } },
    },
    async ({ params: p }) => ({ status: 200, body: await getAccount(p.id) }),
  );
  api.route(
    {
      method: 'patch',
      path: '/v1/users/:id',
      summary:
        'Disable an account (its tokens stop working at once, sign-in is refused) or enable it again',
      tag: 'Organisation',
      auth: ['admin'],
      params,
      body: obj({ disabled: z.boolean() }),
      responses: { 200: { description: 'The account', schema: accountSchema } },
    },
    async ({ principal, params: p, body }) => ({
      status: 200,
      body: await setAccountDisabled(principal, p.id, body.disabled),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/users/:id/token-revocation',
      summary: 'Revoke every token of an account (its next request is 401); it may sign in again',
      tag: 'Organisation',
      auth: ['admin'],
      params,
      responses: { 200: { description: 'The account', schema: accountSchema } },
    },
    async ({ params: p }) => ({ status: 200, body: await revokeAccountTokens(p.id) }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/users/:id/password',
      summary:
        "Reset an account's password (hand the new one over in person); its tokens stop working",
      tag: 'Organisation',
      auth: ['admin'],
      params,
      body: obj({ newPassword: newPassword() }),
      responses: { 200: { description: 'The account', schema: accountSchema } },
    },
    async ({ params: p, body }) => ({
      status: 200,
      body: await resetAccountPassword(p.id, body.newPassword, deps.kdfLog2N),
    }),
  );
}
