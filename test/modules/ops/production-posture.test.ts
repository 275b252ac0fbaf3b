/**
 * What APP_MODE=production changes at the edge, and what holds in every mode: /metrics is not
 * public, every response carries the security headers (a CSP under which /docs still renders in
 * a real browser), /v1 answers are never cached, and a problem's `status` is always its integer
 * HTTP status whatever extra members it carries.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import request from 'supertest';
import { parseConfig } from '../../../config';
import { createApp } from '../../../src/app';
import { ERROR_STATUS, PROBLEM_REASONS, type ProblemReason } from '../../../src/platform/errors';
import { problemBody } from '../../../src/platform/http';
import { createMetrics } from '../../../src/platform/metrics';
import { listen } from '../../../src/platform/server';
import { postEntry } from '../../../src/modules/ledger/ledger.service';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, makeAdmin, makeHousehold, makeUser, makeVillage } from '../../support/factories';
import { makeCreditWorld } from '../credit/helpers';
import { Types } from 'mongoose';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const CHROMIUM = '/usr/bin/chromium';

function productionApp(extra: Record<string, string> = {}): Express {
  const c = ctx();
  const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const ed = generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const config = parseConfig({
    APP_MODE: 'production',
    MONGODB_URI: c.mongoUri,
    MONGODB_DB: c.config.mongodbDb,
    REDIS_URL: c.redisUrl,
    REDIS_PREFIX: c.config.redisPrefix,
    JWT_PRIVATE_KEY: jwt,
    JWT_KEY_ID: 'prod-test',
    EXPORT_SIGNING_KEY: ed,
    EXPORT_SIGNING_KEY_ID: 'export-test',
    VOLUNTEER_ID_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: c.dataDir,
    LOG_LEVEL: 'silent',
    ...extra,
  });
  // The test's token service, so the factories' tokens are accepted here too.
  return createApp({
    config,
    logger: c.logger,
    redis: c.redis,
    tokens: c.tokens,
    queues: c.queues,
    metrics: createMetrics(),
  });
}

describe('production posture', () => {
  describe('GET /metrics', () => {
    it('in production without METRICS_TOKEN › 404 problem+json (not served at all)', async () => {
      const res = await request(productionApp()).get('/metrics');
      expect(res.status).to.equal(404);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.text).to.not.contain('process_cpu_seconds_total');
    });

    it('with METRICS_TOKEN › 401 without it or with a wrong one (WWW-Authenticate: Bearer), 200 Prometheus text with it', async () => {
      const app = productionApp({ METRICS_TOKEN });
      const none = await request(app).get('/metrics');
      expect(none.status).to.equal(401);
      expect(none.headers['www-authenticate']).to.match(/^Bearer/);
      expect(none.body).to.include({ status: 401, code: 'unauthenticated' });
      const wrong = await request(app)
        .get('/metrics')
        .set('Authorization', `Bearer ${METRICS_TOKEN}x`);
      expect(wrong.status).to.equal(401);
      const admin = await makeAdmin();
      expect(
        (await request(app).get('/metrics').set(admin.auth)).status,
        'a user token is not the metrics token',
      ).to.equal(401);
      const ok = await request(app).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
      expect(ok.status).to.equal(200);
      expect(ok.text).to.contain('process_cpu_seconds_total');
      expect(ok.text).to.contain('workers_heartbeat_fresh');
    });

    it('a METRICS_TOKEN set in local mode is required there too', async () => {
      const c = ctx();
      const config = parseConfig({
        ...process.env,
        APP_MODE: 'local',
        DATA_DIR: c.dataDir,
        REDIS_PREFIX: c.config.redisPrefix,
        MONGODB_DB: c.config.mongodbDb,
        METRICS_TOKEN,
        LOG_LEVEL: 'silent',
      });
      const app = createApp({
        config,
        logger: c.logger,
        redis: c.redis,
        tokens: c.tokens,
        queues: c.queues,
        metrics: createMetrics(),
      });
      expect((await request(app).get('/metrics')).status).to.equal(401);
      expect(
        (await request(app).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`)).status,
      ).to.equal(200);
    });
  });

  describe('security headers (helmet)', () => {
    const paths = ['/healthz', '/openapi.json', '/docs/', '/v1/villages', '/v1/nothing-here'];

    it('every response: nosniff, no framing (CSP frame-ancestors and X-Frame-Options), same-origin scripts and styles only, no referrer', async () => {
      for (const app of [ctx().app, productionApp()]) {
        for (const p of paths) {
          const res = await request(app).get(p);
          expect(res.headers['x-content-type-options'], p).to.equal('nosniff');
          expect(res.headers['x-frame-options'], p).to.equal('DENY');
          expect(res.headers['referrer-policy'], p).to.equal('no-referrer');
          const csp = res.headers['content-security-policy'] as string;
          expect(csp, p).to.contain("frame-ancestors 'none'");
          expect(csp, p).to.contain("script-src 'self'");
          expect(csp, p).to.contain("style-src 'self'");
          expect(csp, p).to.contain("object-src 'none'");
          expect(csp, p).to.not.contain('unsafe-inline');
          expect(csp, p).to.not.contain('unsafe-eval');
          expect(res.headers['x-powered-by'], p).to.equal(undefined);
        }
      }
    });

    it('production adds HSTS and upgrade-insecure-requests; local mode (plain http on a village LAN) has neither', async () => {
      const prod = await request(productionApp()).get('/healthz');
      expect(prod.headers['strict-transport-security']).to.match(/max-age=31536000/);
      expect(prod.headers['content-security-policy']).to.contain('upgrade-insecure-requests');
      const local = await http().get('/healthz');
      expect(local.headers['strict-transport-security']).to.equal(undefined);
      expect(local.headers['content-security-policy']).to.not.contain('upgrade-insecure-requests');
    });

    it('/docs renders every operation in a real browser (Chromium) under that CSP, with no CSP violation', async function () {
      this.timeout(120_000);
      if (!existsSync(CHROMIUM)) this.skip(); // CI installs Debian's chromium; without it this check cannot run
      const server: Server = await listen(productionApp(), 0, '127.0.0.1');
      try {
        const port = (server.address() as AddressInfo).port;
        const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
          (resolve, reject) => {
            const child = spawn(CHROMIUM, [
              '--headless=new',
              '--no-sandbox',
              '--disable-gpu',
              '--enable-logging=stderr',
              '--v=0',
              '--virtual-time-budget=20000',
              '--dump-dom',
              `http://127.0.0.1:${port}/docs/`,
            ]);
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('error', reject);
            child.on('close', () => resolve({ stdout: out, stderr: err }));
          },
        );
        const violations = stderr
          .split('\n')
          .filter((l) => /CONSOLE/.test(l) && /Content Security Policy/i.test(l));
        expect(violations, 'CSP violations reported by the browser').to.deep.equal([]);
        expect(stdout, 'swagger-ui rendered the operations').to.contain(
          'data-path="/v1/auth/token"',
        );
        expect(stdout).to.contain('data-path="/v1/households/{id}/entries"');
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('Cache-Control: no-store', () => {
    it('on tokens, accounts, entries, scores, the caller, exports and their problems, and every other /v1 answer', async () => {
      const village = await makeVillage();
      const h = await makeHousehold(village.id);
      await postEntry({
        householdId: h.id,
        type: 'award',
        points: 5,
        spendableDelta: 5,
        meritDelta: 5,
        shortfall: 'clamp',
        source: { type: 'test-award', id: new Types.ObjectId().toHexString() },
      });
      const member = await makeUser('household', { householdId: h.id });
      const admin = await makeAdmin();
      const token = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: member.username, password: member.password });
      const world = await makeCreditWorld();
      const exp = await http()
        .post('/v1/credit/exports')
        .set(world.officer.auth)
        .send({ villageIds: [world.villageId] });
      expect(exp.status).to.equal(202);
      const checks: [string, request.Response][] = [
        ['token', token],
        ['account', await http().get(`/v1/households/${h.id}/account`).set(member.auth)],
        ['entries', await http().get(`/v1/households/${h.id}/entries`).set(member.auth)],
        ['own score', await http().get(`/v1/credit/households/${h.id}`).set(member.auth)],
        ['me', await http().get('/v1/me').set(admin.auth)],
        ['villages', await http().get('/v1/villages').set(admin.auth)],
        [
          'export status',
          await http().get(`/v1/credit/exports/${exp.body.id}`).set(world.officer.auth),
        ],
        [
          'export file not ready',
          await http().get(`/v1/credit/exports/${exp.body.id}/file`).set(world.officer.auth),
        ],
        ['401', await http().get('/v1/villages')],
      ];
      for (const [what, res] of checks) {
        expect(res.status, `${what}: ${res.text}`).to.be.below(500);
        expect(res.headers['cache-control'], what).to.equal('no-store');
      }
    });
  });

  describe('problem documents', () => {
    it('a 409 on an unfinished export carries "status": 409 and its state as exportStatus', async () => {
      const world = await makeCreditWorld();
      const exp = await http()
        .post('/v1/credit/exports')
        .set(world.officer.auth)
        .send({ villageIds: [world.villageId] });
      for (const what of ['file', 'manifest']) {
        const res = await http()
          .get(`/v1/credit/exports/${exp.body.id}/${what}`)
          .set(world.officer.auth);
        expect(res.status).to.equal(409);
        expect(res.body.status, what).to.equal(409);
        expect(res.body).to.include({ code: 'conflict', reason: 'export_not_ready' });
        expect(res.body.exportStatus).to.be.oneOf(['queued', 'running']);
      }
    });

    it('no extra member can replace type, title, status, detail, code or reason, for any reason', () => {
      for (const reason of Object.keys(PROBLEM_REASONS) as ProblemReason[]) {
        const { code } = PROBLEM_REASONS[reason];
        const body = problemBody(reason, 'the detail', {
          reason: 'other',
          status: 'running',
          type: 'x',
          title: 'y',
          detail: 'z',
          code: 'other',
          errors: [],
          extra: 1,
        });
        expect(body.status, code).to.equal(ERROR_STATUS[code]);
        expect(body.code).to.equal(code);
        expect(body.reason).to.equal(reason);
        expect(body.detail).to.equal('the detail');
        expect(body.type).to.equal(`urn:moral-savings:problem:${code}`);
        expect(body.title).to.be.a('string').and.not.equal('y');
        expect(body).to.include({ extra: 1 });
      }
    });
  });
});
