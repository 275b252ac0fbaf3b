import type { Api } from '../../platform/http';
import { id, name, obj, parseIdempotencyKey, z } from '../../platform/validation';
import {
  createItem,
  getItem,
  listItems,
  listMovements,
  restockItem,
  updateItem,
} from './items.service';
import {
  createItemBody,
  credentialsSchema,
  idempotencyHeaders,
  itemParams,
  itemSchema,
  listStoresQuery,
  movementSchema,
  movementsQuery,
  patchItemBody,
  restockBody,
  storeIdParams,
  storeSchema,
  terminalParams,
  terminalSchema,
} from './stores.schemas';
import {
  createStore,
  createTerminal,
  getStore,
  listStores,
  listTerminals,
  revokeTerminal,
  revokeTerminalTokens,
  rotateTerminalSecret,
} from './stores.service';

/** Secrets are shown once: never let a proxy or browser keep them. */
const NO_STORE = { 'Cache-Control': 'no-store' };

export interface StoreRouteDeps {
  kdfLog2N: number;
}

export function storeRoutes(api: Api, deps: StoreRouteDeps): void {
  storeRecordRoutes(api);
  terminalRoutes(api, deps);
  terminalCredentialRoutes(api, deps);
  itemRoutes(api);
  itemStockRoutes(api);
}

/** Stores: create one, list them, read one. */
function storeRecordRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/stores',
      summary: 'Create a points supermarket',
      tag: 'Redemption',
      auth: ['admin'],
      body: obj({ name: name(64), villageIds: z.array(id()).min(1).max(500) }),
      responses: { 201: { description: 'Created', schema: storeSchema } },
    },
    async ({ body }) => ({ status: 201, body: await createStore(body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores',
      summary: 'List stores (a supervisor: those serving its village)',
      tag: 'Redemption',
      auth: ['admin', 'supervisor'],
      query: listStoresQuery,
      responses: {
        200: {
          description: 'A page of stores',
          schema: z.object({ items: z.array(storeSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: await listStores(
        query,
        principal.role === 'supervisor' ? principal.villageId : undefined,
      ),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id',
      summary: 'Get a store (a terminal: its own)',
      tag: 'Redemption',
      auth: ['admin', 'terminal', 'supervisor'],
      params: storeIdParams,
      responses: { 200: { description: 'The store', schema: storeSchema } },
    },
    async ({ principal, params }) => ({ status: 200, body: await getStore(principal, params.id) }),
  );
}

/** A store's terminals: register one (its secret shown once) and list them. */
function terminalRoutes(api: Api, deps: StoreRouteDeps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/terminals',
      summary: 'Register a counter terminal (the secret is shown once)',
      tag: 'Redemption',
      auth: ['admin'],
      params: obj({ id: id() }),
      responses: { 201: { description: 'Client credentials', schema: credentialsSchema } },
    },
    async ({ params }) => ({
      status: 201,
      body: await createTerminal(params.id, deps.kdfLog2N),
      headers: NO_STORE,
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/terminals',
      summary: "List a store's terminals (never their secrets)",
      tag: 'Redemption',
      auth: ['admin'],
      params: storeIdParams,
      responses: {
        200: { description: 'Terminals', schema: z.object({ items: z.array(terminalSchema) }) },
      },
    },
    async ({ params }) => ({ status: 200, body: { items: await listTerminals(params.id) } }),
  );
}

/** One terminal's credentials: a new secret, the terminal revoked, its tokens revoked. */
function terminalCredentialRoutes(api: Api, deps: StoreRouteDeps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/terminals/:terminalId/secret',
      summary: "Rotate a terminal's secret (the new one is shown once; the old one stops working)",
      tag: 'Redemption',
      auth: ['admin'],
      params: terminalParams,
      responses: { 201: { description: 'New client credentials', schema: credentialsSchema } },
    },
    async ({ params }) => ({
      status: 201,
      body: await rotateTerminalSecret(params.id, params.terminalId, deps.kdfLog2N),
      headers: NO_STORE,
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/terminals/:terminalId/revocation',
      summary: 'Revoke a terminal (its secret and tokens stop working at once)',
      tag: 'Redemption',
      auth: ['admin'],
      params: terminalParams,
      responses: { 200: { description: 'The revoked terminal', schema: terminalSchema } },
    },
    async ({ params }) => ({
      status: 200,
      body: await revokeTerminal(params.id, params.terminalId),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/terminals/:terminalId/token-revocation',
      summary:
        "Revoke a terminal's tokens (its next request is 401); its secret still signs in (rotate it first if it leaked)",
      tag: 'Redemption',
      auth: ['admin'],
      params: terminalParams,
      responses: { 200: { description: 'The terminal', schema: terminalSchema } },
    },
    async ({ params }) => ({
      status: 200,
      body: await revokeTerminalTokens(params.id, params.terminalId),
    }),
  );
}

/** A store's catalogue: add an item, list them, read one, change one. */
function itemRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/items',
      summary: 'Add an item with its opening stock',
      tag: 'Redemption',
      auth: ['admin'],
      params: storeIdParams,
      body: createItemBody,
      responses: { 201: { description: 'Created', schema: itemSchema } },
    },
    async ({ params, body }) => ({ status: 201, body: await createItem(params.id, body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/items',
      summary: 'The catalogue with current stock',
      tag: 'Redemption',
      auth: ['admin', 'terminal', 'supervisor'],
      params: storeIdParams,
      responses: {
        200: { description: 'Items by sku', schema: z.object({ items: z.array(itemSchema) }) },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: { items: await listItems(principal, params.id) },
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/items/:sku',
      summary: 'One item with its current stock',
      tag: 'Redemption',
      auth: ['admin', 'terminal', 'supervisor'],
      params: itemParams,
      responses: { 200: { description: 'The item', schema: itemSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getItem(principal, params.id, params.sku),
    }),
  );
  api.route(
    {
      method: 'patch',
      path: '/v1/stores/:id/items/:sku',
      summary: "Change an item's name or points price (past redemptions keep theirs)",
      tag: 'Redemption',
      auth: ['admin'],
      params: itemParams,
      body: patchItemBody,
      responses: { 200: { description: 'The item', schema: itemSchema } },
    },
    async ({ params, body }) => ({
      status: 200,
      body: await updateItem(params.id, params.sku, body),
    }),
  );
}

/** An item's stock: a restock and the stock movements. */
function itemStockRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/items/:sku/restock',
      summary: 'Add stock (a movement; with Idempotency-Key it happens once)',
      tag: 'Redemption',
      auth: ['admin'],
      params: itemParams,
      body: restockBody,
      requestHeaders: idempotencyHeaders,
      responses: {
        201: {
          description: 'The item and the movement',
          schema: z.object({ item: itemSchema, movement: movementSchema }),
        },
      },
    },
    async ({ principal, params, body, headers }) => {
      const key = parseIdempotencyKey(headers['idempotency-key'], false);
      return { status: 201, body: await restockItem(principal, params.id, params.sku, body, key) };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/items/:sku/movements',
      summary: "An item's stock movements, oldest first",
      tag: 'Redemption',
      auth: ['admin', 'terminal', 'supervisor'],
      params: itemParams,
      query: movementsQuery,
      responses: {
        200: {
          description: 'A page of movements; `next` is the `after` of the next page',
          schema: z.object({ items: z.array(movementSchema), next: z.number().int().nullable() }),
        },
      },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await listMovements(
        principal,
        params.id,
        params.sku,
        query.after ?? 0,
        query.limit ?? 100,
      ),
    }),
  );
}
