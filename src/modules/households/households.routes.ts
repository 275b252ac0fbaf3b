import type { Api } from '../../platform/http';
import { parseIdempotencyKey, z } from '../../platform/validation';
import { inquirySchema } from '../inquiries/inquiries.schemas';
import { listInquiries } from '../inquiries/inquiries.service';
import { householdStatement, STATEMENT_CSP } from './statement';
import {
  accountSchema,
  adjustmentBody,
  createHouseholdBody,
  entriesQuery,
  entrySchema,
  householdSchema,
  idempotencyHeaders,
  idParams,
  listHouseholdsQuery,
} from './households.schemas';
import {
  adjustHousehold,
  createHousehold,
  getHousehold,
  getHouseholdAccount,
  getHouseholdEntries,
  householdInReach,
  listHouseholds,
} from './households.service';

/** Who reads a household and its points: its village (the supervisors too) and its township station. */
const READERS = ['admin', 'clerk', 'council', 'household', 'township', 'supervisor'] as const;

export function householdRoutes(api: Api): void {
  householdRecordRoutes(api);
  householdLedgerRoutes(api);
  householdReportRoutes(api);
}

/** Households as records: register one, list or search a village's, read one. */
function householdRecordRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/households',
      summary: 'Register a household',
      tag: 'Households',
      auth: ['admin', 'clerk'],
      body: createHouseholdBody,
      responses: { 201: { description: 'Created', schema: householdSchema } },
    },
    async ({ principal, body }) => ({ status: 201, body: await createHousehold(principal, body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/households',
      summary: "List a village's households, or search them by card number or name (q)",
      tag: 'Households',
      auth: ['admin', 'clerk', 'council', 'township', 'supervisor'],
      query: listHouseholdsQuery,
      responses: {
        200: {
          description: 'A page of households',
          schema: z.object({ items: z.array(householdSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await listHouseholds(principal, query) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id',
      summary: 'Get a household',
      tag: 'Households',
      auth: READERS,
      params: idParams,
      responses: { 200: { description: 'The household', schema: householdSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getHousehold(principal, params.id),
    }),
  );
}

/** A household's points: its account, its entries, and an admin's correction entry. */
function householdLedgerRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/account',
      summary: 'Balances and chain head',
      tag: 'Ledger',
      auth: READERS,
      params: idParams,
      responses: { 200: { description: 'The account', schema: accountSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getHouseholdAccount(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/entries',
      summary: 'Ledger entries, oldest first',
      tag: 'Ledger',
      auth: READERS,
      params: idParams,
      query: entriesQuery,
      responses: {
        200: {
          description: 'A page of entries; `next` is the `after` of the next page',
          schema: z.object({ items: z.array(entrySchema), next: z.number().int().nullable() }),
        },
      },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await getHouseholdEntries(principal, params.id, query.after ?? 0, query.limit ?? 100),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/households/:id/adjustments',
      summary: 'Post a correction entry',
      tag: 'Ledger',
      auth: ['admin'],
      params: idParams,
      body: adjustmentBody,
      requestHeaders: idempotencyHeaders,
      responses: { 201: { description: 'The new entry', schema: entrySchema } },
    },
    async ({ principal, params, body, headers }) => {
      const key = parseIdempotencyKey(headers['idempotency-key'], false);
      return { status: 201, body: await adjustHousehold(principal, params.id, body, key) };
    },
  );
}

/** What is printed or shown about a household: its statement and the credit look-ups of it. */
function householdReportRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/statement',
      summary:
        'Printable statement of the household: every entry with its reason and balances (HTML, Chinese)',
      tag: 'Ledger',
      auth: READERS,
      params: idParams,
      responses: {
        200: {
          description: 'A self-contained HTML page with print styles and no script',
          schema: z.string(),
          contentType: 'text/html',
        },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await householdStatement(principal, params.id),
      contentType: 'text/html; charset=utf-8',
      headers: {
        'Content-Security-Policy': `${STATEMENT_CSP}; frame-ancestors 'self'`,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      },
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/inquiries',
      summary: 'Credit look-ups of this household, naming the cooperative and the officer',
      tag: 'Credit',
      auth: ['admin', 'household', 'clerk'],
      params: idParams,
      responses: {
        200: {
          description: 'Inquiries, newest first (officerId for staff only)',
          schema: z.object({ items: z.array(inquirySchema) }),
        },
      },
    },
    async ({ principal, params }) => {
      await householdInReach(principal, params.id);
      return {
        status: 200,
        body: {
          items: await listInquiries(params.id, { withIds: principal.role !== 'household' }),
        },
      };
    },
  );
}
