import type { Api } from '../../platform/http';
import { createVillageBody, idParams, patchVillageBody, villageSchema } from './villages.schemas';
import { createVillage, getVillage, listVillages, updateVillagePolicy } from './villages.service';
import { z } from '../../platform/validation';

export function villageRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/villages',
      summary: 'Create a village',
      tag: 'Organisation',
      auth: ['admin'],
      body: createVillageBody,
      responses: { 201: { description: 'Created', schema: villageSchema } },
    },
    async ({ body }) => ({ status: 201, body: await createVillage(body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/villages',
      summary: 'List villages in reach',
      tag: 'Organisation',
      auth: ['admin', 'clerk', 'council', 'household', 'township', 'supervisor'],
      responses: {
        200: { description: 'Villages', schema: z.object({ items: z.array(villageSchema) }) },
      },
    },
    async ({ principal }) => ({ status: 200, body: { items: await listVillages(principal) } }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/villages/:id',
      summary: 'Get a village',
      tag: 'Organisation',
      auth: ['admin', 'clerk', 'council', 'household', 'township', 'supervisor'],
      params: idParams,
      responses: { 200: { description: 'The village', schema: villageSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getVillage(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'patch',
      path: '/v1/villages/:id',
      summary: "Set a village's council policy",
      tag: 'Organisation',
      auth: ['admin'],
      params: idParams,
      body: patchVillageBody,
      responses: { 200: { description: 'Updated', schema: villageSchema } },
    },
    async ({ params, body }) => ({
      status: 200,
      body: await updateVillagePolicy(params.id, body.policy),
    }),
  );
}
