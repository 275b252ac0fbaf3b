import type { Api } from '../../platform/http';
import { z } from '../../platform/validation';
import type { IdNumberHasher } from './id-number';
import {
  hoursQuery,
  hoursSchema,
  idParams,
  listVolunteersQuery,
  registerVolunteerBody,
  volunteerSchema,
} from './volunteers.schemas';
import { getHours, getVolunteer, listVolunteers, registerVolunteer } from './volunteers.service';

const READERS = ['admin', 'township', 'clerk', 'council', 'supervisor', 'household'] as const;

export function volunteerRoutes(api: Api, deps: { hasher: IdNumberHasher }): void {
  api.route(
    {
      method: 'post',
      path: '/v1/volunteers',
      summary:
        'Register a volunteer by real name (the ID number is kept only as a keyed hash and a masked form)',
      tag: 'Volunteers',
      auth: ['clerk', 'township', 'admin'],
      body: registerVolunteerBody,
      responses: { 201: { description: 'Registered', schema: volunteerSchema } },
    },
    async ({ principal, body }) => ({
      status: 201,
      body: await registerVolunteer(principal, body, deps.hasher),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/volunteers',
      summary: "A village's (or township's) volunteers, in id order",
      tag: 'Volunteers',
      auth: ['admin', 'township', 'clerk', 'council', 'supervisor'],
      query: listVolunteersQuery,
      responses: {
        200: {
          description: 'A page; `next` is the `after` of the next page',
          schema: z.object({ items: z.array(volunteerSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await listVolunteers(principal, query) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/volunteers/:id',
      summary: 'A volunteer',
      tag: 'Volunteers',
      auth: READERS,
      params: idParams,
      responses: { 200: { description: 'The volunteer', schema: volunteerSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getVolunteer(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/volunteers/:id/hours',
      summary: 'The hours record (志愿服务时长): every rated order with its hours, hash-chained',
      tag: 'Volunteers',
      auth: READERS,
      params: idParams,
      query: hoursQuery,
      responses: { 200: { description: 'The record', schema: hoursSchema } },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await getHours(principal, params.id, query),
    }),
  );
}
