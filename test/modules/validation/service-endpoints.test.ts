/**
 * The service's own endpoints: /openapi.json is OpenAPI 3.1 and documents every route the app
 * serves, /docs is a browsable page, /metrics is Prometheus text, /healthz and /readyz answer,
 * unknown routes are problem+json 404, and every response carries a request id.
 */
import type { Express } from 'express';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, makeAdmin } from '../../support/factories';
import type { OpenApiDoc } from './openapi-table';
import { heartbeatKey, recordHeartbeat } from '../../../src/modules/jobs/heartbeat';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD /path/{param}` of every route registered on the express app. */
function servedRoutes(app: Express): string[] {
  const router =
    (app as unknown as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } }).router ??
    (app as unknown as { _router: { stack: Layer[] } })._router;
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods))
          out.push(`${m.toUpperCase()} ${layer.route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(router.stack);
  return out;
}

/** Operational routes and the pages (/app, served by src/platform/web.ts): deliberately outside the API document (and /docs, its viewer). */
const OPERATIONAL = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /',
  'GET /app',
  'GET /app/assets/{file}',
  'GET /app/{*page}',
];
const isOperational = (r: string) =>
  OPERATIONAL.includes(r) || r === 'GET /docs' || r.startsWith('GET /docs/');

describe('service endpoints', () => {
  it('GET /openapi.json › OpenAPI 3.1 listing every route the app serves, each with its roles and a problem response', async () => {
    const res = await http().get('/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    const doc = res.body as OpenApiDoc & {
      info: { title: string; version: string };
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    expect(doc.info.title).to.be.a('string');
    expect(doc.components.securitySchemes).to.have.property('bearer');

    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
      ),
    );
    const served = servedRoutes(ctx().app).filter((r) => !isOperational(r));
    expect(served.length).to.be.greaterThan(10);
    expect(
      served.filter((r) => !documented.has(r)),
      'served but not documented',
    ).to.deep.equal([]);
    expect(
      [...documented].filter((r) => !served.includes(r)),
      'documented but not served',
    ).to.deep.equal([]);

    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const o = op as {
          description?: string;
          security?: unknown[];
          responses?: Record<string, unknown>;
        };
        expect(o.responses, `${m} ${p}`).to.have.property('default');
        // Public by design: signing in, the export signing keys (public keys need no token), and
        // a station screen's boards (opened by its board link, a header of its own).
        if (!['/v1/auth/token', '/.well-known/jwks.json', '/v1/board-display'].includes(p))
          expect(o.description, `${m} ${p}`).to.match(/^Roles: /);
      }
    }
  });

  it('GET /docs › a browsable HTML page that loads /openapi.json', async () => {
    const res = await http().get('/docs/');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/html/);
    expect(res.text).to.match(/swagger-ui/i);
    const redirect = await http().get('/docs');
    expect([200, 301, 302, 308]).to.include(redirect.status);
    const init = await http().get('/docs/docs.js');
    expect(init.status).to.equal(200);
    expect(init.text).to.contain('/openapi.json');
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css'])
      expect((await http().get(asset)).status, asset).to.equal(200);
    // Only the files the page needs: not swagger-ui-dist's demo page (inline script, petstore).
    expect((await http().get('/docs/index.html')).status).to.equal(404);
  });

  it('GET /metrics › Prometheus text with request durations by route template', async () => {
    const admin = await makeAdmin();
    await http().get('/v1/villages').set(admin.auth);
    const res = await http().get('/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain/);
    expect(res.text).to.contain('# HELP http_request_duration_seconds');
    expect(res.text).to.contain('# TYPE http_request_duration_seconds histogram');
    expect(res.text).to.match(
      /http_request_duration_seconds_count\{[^}]*route="\/v1\/villages"[^}]*\} \d+/,
    );
    expect(res.text).to.contain('process_cpu_seconds_total');
  });

  it('GET /readyz › 200 when the database and Redis answer and the workers took a heartbeat job recently; GET /healthz › 200', async () => {
    await recordHeartbeat(ctx().redis, ctx().config.redisPrefix);
    const ready = await http().get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.include({
      status: 'ready',
      checks: { database: 'ok', redis: 'ok', workers: 'ok' },
    });
    const health = await http().get('/healthz');
    expect(health.status).to.equal(200);
  });

  it('GET /readyz › 503 problem+json naming the workers when their heartbeat is stale or missing; /metrics says so too', async () => {
    const staleS = ctx().config.workers.heartbeatStaleS;
    try {
      await recordHeartbeat(
        ctx().redis,
        ctx().config.redisPrefix,
        new Date(Date.now() - (staleS + 5) * 1000),
      );
      const stale = await http().get('/readyz');
      expect(stale.status).to.equal(503);
      expect(stale.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(stale.body).to.deep.include({
        status: 503,
        code: 'unavailable',
        checks: { database: 'ok', redis: 'ok', workers: 'stale' },
      });
      expect(stale.body.workers.ageS).to.be.greaterThan(staleS);
      const metrics = await http().get('/metrics');
      expect(metrics.text).to.match(/^workers_heartbeat_fresh 0$/m);
      const age = Number(/^workers_heartbeat_age_seconds (\S+)$/m.exec(metrics.text)![1]);
      expect(age).to.be.greaterThan(staleS);

      await ctx().redis.del(heartbeatKey(ctx().config.redisPrefix));
      const never = await http().get('/readyz');
      expect(never.status).to.equal(503);
      expect(never.body.checks.workers).to.equal('stale');
      expect((await http().get('/metrics')).text).to.match(
        /^workers_heartbeat_age_seconds \+Inf$/m,
      );

      await recordHeartbeat(ctx().redis, ctx().config.redisPrefix);
      expect((await http().get('/readyz')).status).to.equal(200);
      expect((await http().get('/metrics')).text).to.match(/^workers_heartbeat_fresh 1$/m);
    } finally {
      await recordHeartbeat(ctx().redis, ctx().config.redisPrefix);
    }
  });

  it('an unknown route is a problem+json 404 not_found', async () => {
    for (const [method, url] of [
      ['get', '/v1/nothing-here'],
      ['post', '/v1/households/x/y/z'],
      ['delete', '/v1/villages'],
    ] as const) {
      const res = await http()[method](url);
      expect(res.status, url).to.equal(404);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ code: 'not_found', status: 404 });
    }
  });

  it('every response carries X-Request-Id: a well-formed one given by the caller is kept, anything else replaced', async () => {
    const plain = await http().get('/healthz');
    expect(plain.headers['x-request-id']).to.match(/^[A-Za-z0-9_-]{1,64}$/);
    const kept = await http().get('/healthz').set('X-Request-Id', 'abc_123-XYZ');
    expect(kept.headers['x-request-id']).to.equal('abc_123-XYZ');
    const replaced = await http().get('/healthz').set('X-Request-Id', 'bad id\twith stuff');
    expect(replaced.headers['x-request-id']).not.to.equal('bad id\twith stuff');
    expect(replaced.headers['x-request-id']).to.match(/^[A-Za-z0-9_-]{1,64}$/);
  });
});
