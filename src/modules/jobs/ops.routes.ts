/**
 * The operational endpoints, outside /v1 and its tokens:
 *
 * - `GET /healthz`: the process is up (liveness of the API).
 * - `GET /readyz`: the database and Redis answer, and (unless READY_REQUIRES_WORKERS=false) the
 *   workers took a heartbeat job within WORKERS_HEARTBEAT_STALE_S; else 503 naming what is down.
 *   Without the workers nothing posts when a notice ends, no export runs and no notification
 *   leaves, while every request still looks fine: that is why readiness includes them.
 * - `GET /metrics`: Prometheus text. With METRICS_TOKEN set it takes `Authorization: Bearer
 *   <METRICS_TOKEN>` (401 otherwise); in production without a token it is not served (404), so
 *   the process's internals are never public.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { DomainError } from '../../platform/errors';
import { problemBody } from '../../platform/http';
import type { Metrics } from '../../platform/metrics';
import { readHeartbeat, registerHeartbeatMetrics, workersHealth } from './heartbeat';

const READY_TIMEOUT_MS = 2000;

export interface OpsDeps {
  mode: 'local' | 'production';
  redis: Redis;
  redisPrefix: string;
  metrics: Metrics;
  metricsToken: string | undefined;
  pingDb(): Promise<void>;
  workers: { heartbeatStaleS: number; readyRequiresWorkers: boolean };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of the presented bearer token with the configured one. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = header ? /^Bearer (\S+)$/.exec(header) : null;
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * The readiness checks, each bounded by READY_TIMEOUT_MS: the database and Redis answer, and
 * (when READY_REQUIRES_WORKERS) the workers' heartbeat is fresh.
 */
async function readiness(deps: OpsDeps): Promise<{
  ready: boolean;
  checks: Record<string, string>;
  workers: ReturnType<typeof workersHealth> | undefined;
}> {
  const checks: Record<string, string> = {};
  let workers: ReturnType<typeof workersHealth> | undefined;
  await Promise.all([
    withTimeout(deps.pingDb(), READY_TIMEOUT_MS).then(
      () => (checks.database = 'ok'),
      () => (checks.database = 'down'),
    ),
    withTimeout(deps.redis.ping(), READY_TIMEOUT_MS).then(
      () => (checks.redis = 'ok'),
      () => (checks.redis = 'down'),
    ),
    withTimeout(readHeartbeat(deps.redis, deps.redisPrefix), READY_TIMEOUT_MS).then(
      (beat) => {
        workers = workersHealth(beat, deps.workers.heartbeatStaleS);
        checks.workers = workers.state;
      },
      () => (checks.workers = 'unknown'),
    ),
  ]);
  const ready =
    checks.database === 'ok' &&
    checks.redis === 'ok' &&
    (!deps.workers.readyRequiresWorkers || checks.workers === 'ok');
  return { ready, checks, workers };
}

export function opsRoutes(app: Express, deps: OpsDeps): void {
  registerHeartbeatMetrics(deps.metrics.registry, {
    redis: deps.redis,
    redisPrefix: deps.redisPrefix,
    staleS: deps.workers.heartbeatStaleS,
  });

  app.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const { ready, checks, workers } = await readiness(deps);
    res.setHeader('Cache-Control', 'no-store');
    if (ready) {
      res.json({ status: 'ready', checks, workers });
      return;
    }
    const down = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k, v]) => `${k} ${v}`);
    res
      .status(503)
      .type('application/problem+json')
      .send(
        JSON.stringify(
          problemBody('unavailable', `Not ready: ${down.join(', ')}.`, { checks, workers }),
        ),
      );
  });

  app.get('/metrics', async (req: Request, res: Response, next: NextFunction) => {
    if (deps.metricsToken) {
      if (!bearerMatches(req.headers.authorization, deps.metricsToken)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        next(
          new DomainError(
            'unauthenticated',
            'GET /metrics takes the bearer token configured as METRICS_TOKEN.',
          ),
        );
        return;
      }
    } else if (deps.mode === 'production') {
      next(new DomainError('not_found', 'No such route.'));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
