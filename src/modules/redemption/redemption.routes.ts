import type { Api, ProblemReply } from '../../platform/http';
import { parseIdempotencyKey, z } from '../../platform/validation';
import type { StoredRedemption, StoredRefusal, StoredResponse } from './redemption.model';
import {
  batchBody,
  batchResultSchema,
  cardParams,
  cardSchema,
  dayReportQuery,
  dayReportSchema,
  flagParams,
  flagSchema,
  flagsQuery,
  idempotencyHeaderRequired,
  idParams,
  listQuery,
  pinStatusSchema,
  redeemBody,
  redemptionRecordSchema,
  redemptionSchema,
  resolveFlagBody,
  reversalSchema,
  setPinBody,
} from './redemption.schemas';
import { listFlags, resolveFlag } from './flags.service';
import { redeem, redeemBatch, reverseRedemption } from './redemption.service';
import { getRedemption, getReceiptText, listRedemptions } from './redemption.views';
import { getPinStatus, removeCardPin, setCardPin } from './pin.service';
import { readCard, storeDayReport } from './counter.service';

/** A stored outcome goes out exactly as stored: a 201 view, or a refusal as problem+json. */
const sendStored = (r: StoredResponse): StoredRedemption | ProblemReply =>
  isRefusal(r) ? { ...r, contentType: 'application/problem+json' } : r;
const isRefusal = (r: StoredResponse): r is StoredRefusal => r.status >= 400;

const PIN_ROLES = ['admin', 'clerk', 'household'] as const;

/** Redeeming: one redemption under its key, and an offline batch. */
function redeemRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/redemptions',
      summary: 'Redeem points for goods (once per Idempotency-Key)',
      tag: 'Redemption',
      auth: ['terminal'],
      body: redeemBody,
      requestHeaders: idempotencyHeaderRequired,
      responses: {
        201: {
          description: 'Redeemed; the same key and body replay this exactly',
          schema: redemptionSchema,
        },
        409: {
          description:
            'insufficient_points, out_of_stock or daily_limit_exceeded (stored and replayed), or conflict (in flight)',
        },
        422: { description: 'idempotency_key_reused' },
      },
    },
    async ({ principal, body, headers }) => {
      const key = parseIdempotencyKey(headers['idempotency-key'], true);
      return sendStored(await redeem(principal, { ...body, key }));
    },
  );
  api.route(
    {
      method: 'post',
      path: '/v1/redemptions/batch',
      summary: 'Upload redemptions made while offline, in order; uncoverable ones are flagged',
      tag: 'Redemption',
      auth: ['terminal'],
      body: batchBody,
      responses: {
        200: {
          description: 'One result per redemption, in the order sent',
          schema: batchResultSchema,
        },
      },
    },
    async ({ principal, body }) => ({
      status: 200,
      body: {
        results: await redeemBatch(
          principal,
          body.redemptions.map((r) => ({ ...r, offlineAt: new Date(r.offlineAt) })),
        ),
      },
    }),
  );
}

/** A store's redemptions, one redemption, its receipt. */
function readRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/redemptions',
      summary: "A store's redemptions, newest first",
      tag: 'Redemption',
      auth: ['terminal', 'admin', 'supervisor'],
      query: listQuery,
      responses: {
        200: {
          description: 'A page; `next` is the `before` of the next page',
          schema: z.object({ items: z.array(redemptionRecordSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: await listRedemptions(principal, query),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/redemptions/:id',
      summary: 'A redemption and its status',
      tag: 'Redemption',
      auth: ['terminal', 'admin', 'supervisor'],
      params: idParams,
      responses: { 200: { description: 'The redemption', schema: redemptionRecordSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getRedemption(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/redemptions/:id/receipt.txt',
      summary: 'The printable receipt: plain text, 32 columns, Chinese',
      tag: 'Redemption',
      auth: ['terminal', 'admin'],
      params: idParams,
      responses: {
        200: { description: 'The receipt', schema: z.string(), contentType: 'text/plain' },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getReceiptText(principal, params.id),
      contentType: 'text/plain; charset=utf-8',
    }),
  );
}

/** Reversing a redemption the same day. */
function reversalRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/redemptions/:id/reversal',
      summary: 'Reverse a redemption the same day (points and stock come back once)',
      tag: 'Redemption',
      auth: ['terminal'],
      params: idParams,
      responses: {
        201: { description: 'Reversed; repeats answer the same', schema: reversalSchema },
      },
    },
    async ({ principal, params }) => ({
      status: 201,
      body: await reverseRedemption(principal, params.id),
    }),
  );
}

/** Offline redemptions that could not be charged, and their resolution. */
function flagRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/redemption-flags',
      summary: 'Offline redemptions that could not be charged (for the store manager)',
      tag: 'Redemption',
      auth: ['terminal', 'admin'],
      params: idParams,
      query: flagsQuery,
      responses: {
        200: {
          description: 'Flags, newest first',
          schema: z.object({ items: z.array(flagSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await listFlags(principal, params.id, query),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/stores/:id/redemption-flags/:flagId/resolution',
      summary: 'Record how a flagged redemption was settled',
      tag: 'Redemption',
      auth: ['terminal', 'admin'],
      params: flagParams,
      body: resolveFlagBody,
      responses: { 201: { description: 'Resolved', schema: flagSchema } },
    },
    async ({ principal, params, body }) => ({
      status: 201,
      body: await resolveFlag(principal, params.id, params.flagId, body.note),
    }),
  );
}

/** What a counter reads besides redeeming: the card, the store's day. */
function counterRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/cards/:cardNo',
      summary: 'The card at the counter: masked head name, spendable points, PIN state',
      tag: 'Redemption',
      auth: ['terminal'],
      params: cardParams,
      responses: { 200: { description: 'The card', schema: cardSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await readCard(principal, params.cardNo),
      headers: { 'Cache-Control': 'no-store' },
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/stores/:id/day-report',
      summary:
        "A store's day (Asia/Shanghai): sales, reversals, refusals, units sold and stock now",
      tag: 'Redemption',
      auth: ['terminal', 'admin'],
      params: idParams,
      query: dayReportQuery,
      responses: { 200: { description: 'The day report', schema: dayReportSchema } },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await storeDayReport(principal, params.id, query.date),
    }),
  );
}

/** The card PIN: status, set, remove. */
function pinRoutes(api: Api, deps: { kdfLog2N: number }): void {
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/pin',
      summary: 'Whether the card has a PIN and is locked',
      tag: 'Redemption',
      auth: PIN_ROLES,
      params: idParams,
      responses: { 200: { description: 'PIN status', schema: pinStatusSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getPinStatus(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/households/:id/pin',
      summary: 'Set or change the card PIN (also unlocks the card)',
      tag: 'Redemption',
      auth: PIN_ROLES,
      params: idParams,
      body: setPinBody,
      responses: { 204: { description: 'Set' } },
    },
    async ({ principal, params, body }) => {
      await setCardPin(principal, params.id, body.pin, deps.kdfLog2N);
      return { status: 204 };
    },
  );
  api.route(
    {
      method: 'delete',
      path: '/v1/households/:id/pin',
      summary: 'Remove the card PIN',
      tag: 'Redemption',
      auth: PIN_ROLES,
      params: idParams,
      responses: { 204: { description: 'Removed' } },
    },
    async ({ principal, params }) => {
      await removeCardPin(principal, params.id);
      return { status: 204 };
    },
  );
}

export function redemptionRoutes(api: Api, deps: { kdfLog2N: number }): void {
  redeemRoutes(api);
  readRoutes(api);
  reversalRoutes(api);
  flagRoutes(api);
  counterRoutes(api);
  pinRoutes(api, deps);
}
