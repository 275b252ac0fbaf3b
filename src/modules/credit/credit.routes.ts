/** Credit reference routes: consents, look-ups, exports and the export signing keys. */
import type { Redis } from 'ioredis';
import type { Config } from '../../../config';
import type { Api } from '../../platform/http';
import type { Metrics } from '../../platform/metrics';
import type { Queues } from '../../platform/queues';
import { z } from '../../platform/validation';
import {
  createExport,
  EXPORT_QUEUE,
  exportJobId,
  getExportStatus,
  getManifest,
  openExportFile,
} from './credit.exports';
import { EXPORT_JOB_OPTIONS } from './credit.jobs';
import { signingKeysFor } from './credit.keys';
import {
  consentSchema,
  createConsentBody,
  createExportBody,
  consentingHouseholdSchema,
  creditSchema,
  exportStatusSchema,
  historyQuery,
  historySchema,
  officerSearchQuery,
  idParams,
  jwksSchema,
  listConsentsQuery,
  lookupQuery,
  manifestSchema,
} from './credit.schemas';
import { parseAsOf, parseInstant } from './credit.instants';
import { createCreditService, type CreditService } from './credit.service';
import { searchConsentingHouseholds } from './credit.search';
import {
  consentReceipt,
  createConsent,
  getConsent,
  listConsents,
  revokeConsent,
} from './consents.service';

export interface CreditRouteDeps {
  config: Config;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
}

export function creditRoutes(api: Api, deps: CreditRouteDeps): void {
  const credit = createCreditService({
    redis: deps.redis,
    redisPrefix: deps.config.redisPrefix,
    metrics: deps.metrics,
    settings: {
      gradeThresholds: deps.config.credit.gradeThresholds,
      lookupsPerMinute: deps.config.credit.lookupsPerMinute,
      lookupsPerDayAlert: deps.config.credit.lookupsPerDayAlert,
    },
  });
  consentRoutes(api);
  consentRecordRoutes(api);
  lookupRoutes(api, credit);
  exportStartRoutes(api, deps);
  exportResultRoutes(api, deps);
  signingKeyRoutes(api, deps);
}

/** Consents, as a collection: give one, list a household's. */
function consentRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/consents',
      summary: 'Give consent to one cooperative (household), or record a signed paper form (clerk)',
      tag: 'Credit',
      auth: ['household', 'clerk'],
      body: createConsentBody,
      responses: { 201: { description: 'Consent recorded', schema: consentSchema } },
    },
    async ({ principal, body }) => {
      const expiresAt = parseInstant(body.expiresAt, 'expiresAt');
      const { expiresAt: _raw, ...rest } = body;
      return { status: 201, body: await createConsent(principal, { ...rest, expiresAt }) };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/v1/consents',
      summary: "A household's consents, newest first",
      tag: 'Credit',
      auth: ['household', 'clerk', 'admin'],
      query: listConsentsQuery,
      responses: {
        200: { description: 'Consents', schema: z.object({ items: z.array(consentSchema) }) },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: { items: await listConsents(principal, query.householdId) },
    }),
  );
}

/** One consent: read it, withdraw it, print its receipt. */
function consentRecordRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/consents/:id',
      summary: 'A consent and its status',
      tag: 'Credit',
      auth: ['household', 'clerk', 'admin', 'officer'],
      params: idParams,
      responses: { 200: { description: 'The consent', schema: consentSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getConsent(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'delete',
      path: '/v1/consents/:id',
      summary: 'Withdraw a consent (kept, with a revocation record)',
      tag: 'Credit',
      auth: ['household', 'clerk'],
      params: idParams,
      responses: { 200: { description: 'The consent, now revoked', schema: consentSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await revokeConsent(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/consents/:id/receipt.txt',
      summary: 'Printable receipt of a consent (Chinese plain text)',
      tag: 'Credit',
      auth: ['household', 'clerk', 'admin'],
      params: idParams,
      responses: {
        200: { description: 'The receipt', schema: z.string(), contentType: 'text/plain' },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await consentReceipt(principal, params.id),
      contentType: 'text/plain; charset=utf-8',
    }),
  );
}

/** Look-ups and trends of one household, and the officer's search for consenting households. */
function lookupRoutes(api: Api, credit: CreditService): void {
  api.route(
    {
      method: 'get',
      path: '/v1/credit/households/:id',
      summary:
        "A household's credit reference score as of a date (officer with consent, or the household itself)",
      tag: 'Credit',
      auth: ['officer', 'household'],
      params: idParams,
      query: lookupQuery,
      responses: {
        200: { description: 'Score, grade and the four main reasons', schema: creditSchema },
      },
    },
    async ({ principal, params, query, log }) => ({
      status: 200,
      body: await credit.lookUp(principal, params.id, query, log),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/credit/households/:id/history',
      summary:
        'The score at each of the last months’ ends (a trend); for an officer it is an inquiry like a look-up',
      tag: 'Credit',
      auth: ['officer', 'household'],
      params: idParams,
      query: historyQuery,
      responses: { 200: { description: 'Scores, oldest first', schema: historySchema } },
    },
    async ({ principal, params, query, log }) => ({
      status: 200,
      body: await credit.history(principal, params.id, query, log),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/credit/households',
      summary:
        "Households of the officer's cooperative area with a valid consent, by card number or name (names masked; not an inquiry)",
      tag: 'Credit',
      auth: ['officer'],
      query: officerSearchQuery,
      responses: {
        200: {
          description: 'Consenting households',
          schema: z.object({ items: z.array(consentingHouseholdSchema) }),
        },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: { items: await searchConsentingHouseholds(principal, query.q) },
    }),
  );
}

/** Starting a whole-village export: the record, then its job. */
function exportStartRoutes(api: Api, deps: CreditRouteDeps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/credit/exports',
      summary: 'Start a whole-village export of consenting households',
      tag: 'Credit',
      auth: ['officer'],
      body: createExportBody,
      responses: {
        202: {
          description: 'Export queued',
          schema: z.object({ id: z.string(), status: z.string() }),
        },
      },
    },
    async ({ principal, body, log }) => {
      const doc = await createExport(principal, {
        villageIds: body.villageIds,
        ...(body.asOf !== undefined ? { asOf: await parseAsOf(body.asOf) } : {}),
      });
      const exportId = doc._id.toHexString();
      try {
        await deps.queues.add(
          EXPORT_QUEUE,
          exportJobId(exportId),
          { exportId },
          EXPORT_JOB_OPTIONS,
        );
      } catch (err) {
        // The record is durable: the sweeper enqueues exports whose job never started.
        log.warn({ err, exportId }, 'could not enqueue the export job; the sweeper will');
      }
      return {
        status: 202,
        body: { id: exportId, status: doc.status },
        headers: { Location: `/v1/credit/exports/${exportId}` },
      };
    },
  );
}

/** What an export produced: its status, its file and its signed manifest. */
function exportResultRoutes(api: Api, deps: CreditRouteDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/credit/exports/:id',
      summary: 'Status and progress of an export',
      tag: 'Credit',
      auth: ['officer'],
      params: idParams,
      responses: { 200: { description: 'Status', schema: exportStatusSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getExportStatus(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/credit/exports/:id/file',
      summary: 'The export CSV (UTF-8, header row)',
      tag: 'Credit',
      auth: ['officer'],
      params: idParams,
      responses: {
        200: { description: 'The CSV file', schema: z.string(), contentType: 'text/csv' },
      },
    },
    async ({ principal, params }) => {
      const file = await openExportFile(principal, params.id, deps.config.credit.exportDir);
      return {
        status: 200,
        body: file.stream,
        contentType: 'text/csv; charset=utf-8',
        headers: {
          'Content-Length': String(file.bytes),
          'Content-Disposition': `attachment; filename="credit-export-${params.id}.csv"`,
          'Repr-Digest': `sha-256=:${Buffer.from(file.sha256, 'hex').toString('base64')}:`,
        },
      };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/v1/credit/exports/:id/manifest',
      summary: 'The signed manifest of an export',
      tag: 'Credit',
      auth: ['officer'],
      params: idParams,
      responses: { 200: { description: 'Manifest', schema: manifestSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getManifest(principal, params.id),
    }),
  );
}

/** The public keys that sign exports, with and without a token. */
function signingKeyRoutes(api: Api, deps: CreditRouteDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/credit/keys',
      summary: 'Public keys that sign exports (JWKS), for offline verification',
      tag: 'Credit',
      auth: ['officer', 'admin', 'clerk', 'council', 'household'],
      responses: {
        200: {
          description: 'JWKS (public keys: not secret, but every /v1 route takes a token)',
          schema: jwksSchema,
        },
      },
    },
    () => ({
      status: 200,
      body: signingKeysFor(deps.config).jwks,
      headers: { 'Cache-Control': 'private, max-age=300' },
    }),
  );
  // Public keys are not secret: a bank's verifier fetches them without an account (RFC 8615 path).
  api.route(
    {
      method: 'get',
      path: '/.well-known/jwks.json',
      summary: 'Public keys that sign exports (JWKS), without a token',
      tag: 'Credit',
      auth: 'public',
      responses: {
        200: { description: 'JWKS, the same as GET /v1/credit/keys', schema: jwksSchema },
      },
    },
    () => ({
      status: 200,
      body: signingKeysFor(deps.config).jwks,
      contentType: 'application/jwk-set+json',
      headers: { 'Cache-Control': 'public, max-age=300' },
    }),
  );
}
