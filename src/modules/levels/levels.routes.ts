import type { Api } from '../../platform/http';
import { id, obj, z } from '../../platform/validation';
import { getTownship, listTownships } from './levels.views';
import { townshipSchema } from './levels.schemas';

export function levelRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/townships',
      summary: 'Township stations in reach (the county office: all; a township: its own)',
      tag: 'Organisation',
      auth: ['admin', 'township'],
      responses: {
        200: { description: 'Townships', schema: z.object({ items: z.array(townshipSchema) }) },
      },
    },
    async ({ principal }) => ({ status: 200, body: { items: await listTownships(principal) } }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/townships/:id',
      summary: 'A township station and its villages',
      tag: 'Organisation',
      auth: ['admin', 'township'],
      params: obj({ id: id() }),
      responses: { 200: { description: 'The township', schema: townshipSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getTownship(principal, params.id),
    }),
  );
}
