import type { Api } from '../../platform/http';
import { calendarDate } from '../rules/rules.schemas';
import { id, obj, queryInt, text, z } from '../../platform/validation';
import {
  RELATED_MAX,
  concentrationReport,
  createFlag,
  getKinship,
  listFlags,
  resolveFlag,
  setKinship,
} from './oversight.service';
import { flagSchema, kinshipSchema, reportSchema } from './oversight.schemas';

const createFlagBody = obj({
  target: z.discriminatedUnion('type', [
    obj({ type: z.literal('redemption'), redemptionId: id() }),
    obj({
      type: z.literal('stock_movement'),
      storeId: id(),
      sku: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a sku'),
      seq: z.number().int().min(1),
    }),
  ]),
  reason: text(1000),
});

export function oversightRoutes(api: Api): void {
  concentrationRoutes(api);
  kinshipRoutes(api);
  flagRoutes(api);
}

/** The approver–recipient concentration report (人情分). */
function concentrationRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/villages/:id/concentration',
      summary:
        'Approver–recipient concentration (人情分): how each council member’s approvals fall on households',
      tag: 'Oversight',
      auth: ['admin', 'township', 'supervisor'],
      params: obj({ id: id() }),
      query: obj({ from: calendarDate().optional(), to: calendarDate().optional() }),
      responses: { 200: { description: 'The report', schema: reportSchema } },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await concentrationReport(principal, params.id, query),
    }),
  );
}

/** A household's kinship as the roster records it (the report's `kin` and related groups). */
function kinshipRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/kinship',
      summary: "What the roster says of a household's relatives (lineage, linked households)",
      tag: 'Oversight',
      auth: ['admin', 'township', 'clerk', 'supervisor'],
      params: obj({ id: id() }),
      responses: { 200: { description: 'Kinship', schema: kinshipSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getKinship(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/households/:id/kinship',
      summary:
        "Record a household's lineage (宗族) and linked households (the clerk keeps the roster)",
      tag: 'Oversight',
      auth: ['admin', 'clerk'],
      params: obj({ id: id() }),
      body: obj({
        lineage: text(32).nullable().optional(),
        relatedHouseholdIds: z.array(id()).max(RELATED_MAX).optional(),
      }),
      responses: { 200: { description: 'Kinship', schema: kinshipSchema } },
    },
    async ({ principal, params, body }) => ({
      status: 200,
      body: await setKinship(principal, params.id, body),
    }),
  );
}

/** Oversight flags: a supervisor flags a sale or stock movement, the township settles it. */
function flagRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/oversight-flags',
      summary: "Flag a sale or a stock movement for the township station (a village's supervisor)",
      tag: 'Oversight',
      auth: ['supervisor'],
      body: createFlagBody,
      responses: { 201: { description: 'Flagged', schema: flagSchema } },
    },
    async ({ principal, body }) => ({ status: 201, body: await createFlag(principal, body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/oversight-flags',
      summary:
        "Flags, newest first (a township station: its villages'; a supervisor: their village's)",
      tag: 'Oversight',
      auth: ['admin', 'township', 'supervisor'],
      query: obj({
        status: z.enum(['open', 'all']).optional(),
        villageId: id().optional(),
        before: id().optional(),
        limit: queryInt(1, 200).optional(),
      }),
      responses: {
        200: {
          description: 'A page',
          schema: z.object({ items: z.array(flagSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await listFlags(principal, query) }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/oversight-flags/:id/resolution',
      summary: 'Record, once, how the township station settled a flag',
      tag: 'Oversight',
      auth: ['admin', 'township'],
      params: obj({ id: id() }),
      body: obj({ note: text(1000) }),
      responses: { 201: { description: 'The flag, resolved', schema: flagSchema } },
    },
    async ({ principal, params, body }) => ({
      status: 201,
      body: await resolveFlag(principal, params.id, body),
    }),
  );
}
