import type { Api } from '../../platform/http';
import { id, obj, text, z } from '../../platform/validation';
import { createCooperative } from './cooperatives.service';

const cooperativeSchema = z.object({ id: z.string(), name: z.string(), villageIds: z.array(z.string()), createdAt: z.string() }).openapi('Cooperative');

export function cooperativeRoutes(api: Api): void {
  api.route(
    { method: 'post', path: '/v1/cooperatives', summary: 'Create a credit cooperative with its service area', tag: 'Credit', auth: ['admin'], body: obj({ name: text(64), villageIds: z.array(id()).min(1).max(5000) }), responses: { 201: { description: 'Created', schema: cooperativeSchema } } },
    async ({ body }) => ({ status: 201, body: await createCooperative(body) }),
  );
}
