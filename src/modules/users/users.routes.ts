import type { Api } from '../../platform/http';
import { ROLES, principalSchema } from '../../platform/principal';
import { z } from '../../platform/validation';
import { accountRoutes } from './accounts.routes';
import { createUserBody, listUsersQuery, userListItemSchema, userSchema } from './users.schemas';
import { createUser, listUsers } from './users.service';

export function userRoutes(api: Api, deps: { kdfLog2N: number }): void {
  api.route(
    {
      method: 'post',
      path: '/v1/users',
      summary: 'Create a user',
      tag: 'Organisation',
      auth: ['admin', 'clerk', 'township'],
      body: createUserBody,
      responses: {
        201: { description: 'Created (never returns the password)', schema: userSchema },
      },
    },
    async ({ principal, body }) => ({
      status: 201,
      body: await createUser(principal, body, deps.kdfLog2N),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/users',
      summary:
        'Users in reach (admin: all; clerk: council and household logins of the village), by username',
      tag: 'Organisation',
      auth: ['admin', 'clerk'],
      query: listUsersQuery,
      responses: {
        200: {
          description: 'A page of users; `next` is the `after` of the next page',
          schema: z.object({ items: z.array(userListItemSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await listUsers(principal, query) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/me',
      summary: 'Who am I',
      tag: 'Auth',
      auth: ROLES,
      responses: { 200: { description: 'The caller', schema: principalSchema } },
    },
    ({ principal }) => ({ status: 200, body: principal }),
  );
  accountRoutes(api, deps);
}
