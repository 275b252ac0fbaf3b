/**
 * createApp(deps) builds the express app without listening, so tests drive it directly
 * (src/platform/server.ts wraps it in the HTTP server that also answers Node's own parse errors).
 * Order matters: request id and logging first, then the security headers (so every answer,
 * errors included, carries them), then the body parser (1 MiB limit) and the body guard, then the
 * operational endpoints and routes, then 404, then the one problem+json error renderer.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import pinoHttp from 'pino-http';
import type { Redis } from 'ioredis';
import { logBackgroundFailures } from './platform/background';
import { connectConfigCache } from './platform/config-cache';
import type { Config } from '../config';
import type { TokenService } from './platform/auth';
import { pingDb } from './platform/db';
import { docsRouter } from './platform/docs';
import { DomainError } from './platform/errors';
import { Api, problemMiddleware } from './platform/http';
import type { Logger } from './platform/logger';
import { createMetrics, type Metrics } from './platform/metrics';
import type { Queues } from './platform/queues';
import { securityHeaders } from './platform/security';
import { guardBody, refuseInvalidUtf8 } from './platform/validation';
import { pagesRouter } from './platform/web';
import { attachmentRoutes } from './modules/attachments/attachments.routes';
import { authRoutes } from './modules/auth/auth.routes';
import { createAuthService } from './modules/auth/auth.service';
import { cooperativeRoutes } from './modules/cooperatives/cooperatives.routes';
import { creditRoutes } from './modules/credit/credit.routes';
import { householdRoutes } from './modules/households/households.routes';
import { redemptionRoutes } from './modules/redemption/redemption.routes';
import { storeRoutes } from './modules/stores/stores.routes';
import { userRoutes } from './modules/users/users.routes';
import { villageRoutes } from './modules/villages/villages.routes';
import { boardLinkRoutes } from './modules/boards/board-links.routes';
import { boardRoutes } from './modules/boards/boards.routes';
import { jobRoutes } from './modules/jobs/jobs.routes';
import { registerJobMetrics } from './modules/jobs/jobs.service';
import { opsRoutes } from './modules/jobs/ops.routes';
import { notificationRoutes } from './modules/notifications/notifications.routes';
import { ruleRoutes } from './modules/rules/rules.routes';
import { submissionRoutes } from './modules/submissions/submissions.routes';
import { levelRoutes } from './modules/levels/levels.routes';
import { volunteerRoutes } from './modules/volunteers/volunteers.routes';
import { idNumberHasherFor } from './modules/volunteers/id-number';
import { teamRoutes } from './modules/teams/teams.routes';
import { serviceMenuRoutes } from './modules/service-menu/service-menu.routes';
import { serviceOrderRoutes } from './modules/service-orders/service-orders.routes';
import { rankingRoutes } from './modules/rankings/rankings.routes';
import { oversightRoutes } from './modules/oversight/oversight.routes';

/** Largest accepted request body (CONTRACT.md: bodies over 1 MiB are refused with 413). */
export const BODY_BYTES_MAX = 1024 * 1024;

export interface AppDeps {
  config: Config;
  logger: Logger;
  /** The API's Redis connection (fails fast). */
  redis: Redis;
  tokens: TokenService;
  /** BullMQ queues for enqueueing (jobs are processed by the workers process). */
  queues: Queues;
  metrics?: Metrics;
}

/** A header's value as one string, or undefined (a repeated header's values joined). */
const headerText = (v: string | string[] | number | undefined): string | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v);

/**
 * What an access log line says of a request: who asked for what, and the key a terminal's
 * retries share. No other header is logged: a credential (Authorization, Board-Link, a cookie)
 * can never reach the log, whatever redaction says, and a line is about a sixth of what pino's
 * default serializers wrote (every request and response header: the security headers alone are
 * some 700 bytes a line, the same on every one).
 */
function accessRequest(req: {
  id?: unknown;
  method?: string;
  url?: string;
  remoteAddress?: string;
  headers?: Record<string, string | string[] | undefined>;
}) {
  const h = req.headers ?? {};
  return {
    id: req.id,
    method: req.method,
    url: req.url,
    remoteAddress: req.remoteAddress,
    userAgent: headerText(h['user-agent']),
    idempotencyKey: headerText(h['idempotency-key']),
    contentLength: headerText(h['content-length']),
  };
}

/** What an access log line says of the answer: its status and size. */
function accessResponse(res: {
  statusCode?: number;
  headers?: Record<string, string | string[] | number | undefined>;
}) {
  return {
    statusCode: res.statusCode,
    contentLength: headerText(res.headers?.['content-length']),
  };
}

/** Request id and access log (health and metrics probes and static assets are not logged). */
function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    serializers: { req: accessRequest, res: accessResponse },
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id =
        typeof given === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customProps: (req) => ({ requestId: (req as Request).id }),
    autoLogging: {
      ignore: (req) =>
        req.url === '/healthz' ||
        req.url === '/metrics' ||
        Boolean(req.url?.startsWith('/app/assets/')),
    },
  });
}

/** Everything a request passes before the routes, in the order of the module comment. */
function useRequestPipeline(app: Express, deps: AppDeps, metrics: Metrics): void {
  app.use(requestLogger(deps.logger));
  app.use(securityHeaders(deps.config.mode));
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () =>
      end({
        route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched',
        status: String(res.statusCode),
      }),
    );
    next();
  });
  app.use(
    express.json({
      limit: BODY_BYTES_MAX,
      strict: true,
      type: ['application/json', 'application/*+json'],
      verify: refuseInvalidUtf8,
    }),
  );
  app.use((req, _res, next) => {
    if (req.body !== undefined) guardBody(req.body);
    next();
  });
}

/** The API: token checks, and every module's routes (their order is the OpenAPI document's). */
function createApi(deps: AppDeps, metrics: Metrics): Api {
  const auth = createAuthService({
    tokens: deps.tokens,
    redis: deps.redis,
    redisPrefix: deps.config.redisPrefix,
    failuresPerMinute: deps.config.loginFailuresPerMinute,
    failuresPerAddressPerMinute: deps.config.loginFailuresPerAddressPerMinute,
    kdfLog2N: deps.config.passwordKdfLog2N,
  });
  const api = new Api({
    verifyToken: (t, k) => deps.tokens.verify(t, k),
    resolvePrincipal: (sub, role, kind, tv) => auth.resolvePrincipal(sub, role, kind, tv),
  });
  const kdf = { kdfLog2N: deps.config.passwordKdfLog2N };
  authRoutes(api, auth);
  villageRoutes(api);
  userRoutes(api, kdf);
  householdRoutes(api);
  storeRoutes(api, kdf);
  redemptionRoutes(api, kdf);
  cooperativeRoutes(api);
  creditRoutes(api, { config: deps.config, redis: deps.redis, queues: deps.queues, metrics });
  ruleRoutes(api);
  submissionRoutes(api, { queues: deps.queues });
  attachmentRoutes(api);
  notificationRoutes(api);
  boardRoutes(api);
  boardLinkRoutes(api);
  jobRoutes(api, { redis: deps.redis, queues: deps.queues, redisPrefix: deps.config.redisPrefix });
  levelRoutes(api);
  volunteerRoutes(api, { hasher: idNumberHasherFor(deps.config) });
  teamRoutes(api);
  serviceMenuRoutes(api);
  serviceOrderRoutes(api, { queues: deps.queues });
  rankingRoutes(api);
  oversightRoutes(api);
  return api;
}

export function createApp(deps: AppDeps): Express {
  const metrics = deps.metrics ?? createMetrics();
  // Configuration read behind requests is cached in process, invalidated through Redis.
  connectConfigCache(deps.redis, deps.config.redisPrefix, deps.config.configCacheTtlMs);
  logBackgroundFailures((err, what) => deps.logger.warn({ err, what }, 'background write failed'));
  registerJobMetrics(metrics.registry, {
    redis: deps.redis,
    queues: deps.queues,
    redisPrefix: deps.config.redisPrefix,
  });
  const app = express();
  app.disable('x-powered-by');
  // The client address (sign-in throttling, logs) is the TCP peer unless TRUST_PROXY names the
  // proxies whose X-Forwarded-For may be believed.
  app.set('trust proxy', deps.config.trustProxy);
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c: operators stay literal strings
  useRequestPipeline(app, deps, metrics);

  app.use(pagesRouter(deps.config.webDir));

  opsRoutes(app, {
    mode: deps.config.mode,
    redis: deps.redis,
    redisPrefix: deps.config.redisPrefix,
    metrics,
    metricsToken: deps.config.metricsToken,
    pingDb,
    workers: deps.config.workers,
  });

  const api = createApi(deps, metrics);
  app.use(api.router);

  const openapi = api.openapi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(docsRouter());

  app.use((_req, _res, next) => next(new DomainError('not_found', 'No such route.')));
  app.use(problemMiddleware);
  return app;
}
