import type { Api } from '../../platform/http';
import { id, obj, text, z } from '../../platform/validation';
import { createStore, createTerminal } from './stores.service';

const storeSchema = z.object({ id: z.string(), name: z.string(), villageIds: z.array(z.string()), createdAt: z.string() }).openapi('Store');

export function storeRoutes(api: Api, deps: { kdfLog2N: number }): void {
  api.route(
    { method: 'post', path: '/v1/stores', summary: 'Create a points supermarket', tag: 'Redemption', auth: ['admin'], body: obj({ name: text(64), villageIds: z.array(id()).min(1).max(500) }), responses: { 201: { description: 'Created', schema: storeSchema } } },
    async ({ body }) => ({ status: 201, body: await createStore(body) }),
  );
  api.route(
    { method: 'post', path: '/v1/stores/:id/terminals', summary: 'Register a counter terminal (the secret is shown once)', tag: 'Redemption', auth: ['admin'], params: obj({ id: id() }), responses: { 201: { description: 'Client credentials', schema: z.object({ id: z.string(), clientId: z.string(), clientSecret: z.string(), storeId: z.string() }) } } },
    async ({ params }) => ({ status: 201, body: await createTerminal(params.id, deps.kdfLog2N), headers: { 'Cache-Control': 'no-store' } }),
  );
}
