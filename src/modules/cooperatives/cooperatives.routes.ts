import type { Api } from '../../platform/http';
import { id, name, obj, z } from '../../platform/validation';
import { createCooperative, getCooperative, listCooperatives } from './cooperatives.service';
import { cooperativeSchema } from './cooperatives.schemas';

export function cooperativeRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/cooperatives',
      summary: 'Create a credit cooperative with its service area',
      tag: 'Credit',
      auth: ['admin'],
      body: obj({ name: name(64), villageIds: z.array(id()).min(1).max(5000) }),
      responses: { 201: { description: 'Created', schema: cooperativeSchema } },
    },
    async ({ body }) => ({ status: 201, body: await createCooperative(body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/cooperatives',
      summary:
        'Cooperatives in reach: all (admin), its own (officer), or those serving the caller’s village',
      tag: 'Credit',
      auth: ['admin', 'officer', 'clerk', 'council', 'household'],
      responses: {
        200: {
          description: 'Cooperatives',
          schema: z.object({ items: z.array(cooperativeSchema) }),
        },
      },
    },
    async ({ principal }) => ({ status: 200, body: { items: await listCooperatives(principal) } }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/cooperatives/:id',
      summary:
        'A cooperative and its service area (the villages an officer may look up and export)',
      tag: 'Credit',
      auth: ['admin', 'officer'],
      params: obj({ id: id() }),
      responses: {
        200: {
          description: 'The cooperative',
          schema: cooperativeSchema.extend({
            villages: z.array(z.object({ id: z.string(), name: z.string() })),
          }),
        },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getCooperative(principal, params.id),
    }),
  );
}
