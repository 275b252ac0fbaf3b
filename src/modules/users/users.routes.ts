import type { Api } from '../../platform/http';
import { createUserBody, userSchema } from './users.schemas';
import { createUser } from './users.service';

export function userRoutes(api: Api, deps: { kdfLog2N: number }): void {
  api.route(
    { method: 'post', path: '/v1/users', summary: 'Create a user', tag: 'Organisation', auth: ['admin', 'clerk', 'township'], body: createUserBody, responses: { 201: { description: 'Created (never returns the password)', schema: userSchema } } },
    async ({ principal, body }) => ({ status: 201, body: await createUser(principal, body, deps.kdfLog2N) }),
  );
  api.route(
    { method: 'get', path: '/v1/me', summary: 'Who am I', tag: 'Auth', auth: ['admin', 'clerk', 'council', 'terminal', 'officer', 'household', 'township', 'supervisor'], responses: { 200: { description: 'The caller' } } },
    async ({ principal }) => ({ status: 200, body: principal }),
  );
}
