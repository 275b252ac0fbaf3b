/**
 * Abuse limits on officer look-ups: a per-officer rate limit (429 rate_limited, recorded as an
 * inquiry like every refused call) and a daily watch that logs once and counts in a metric when an
 * officer looks up more distinct households than the threshold. Driven through an app whose
 * limits are small (the same code, other configuration), on the real Redis.
 */
import { Writable } from 'node:stream';
import request from 'supertest';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { makeUser } from '../../support/factories';
import { createApp } from '../../../src/app';
import { createLogger } from '../../../src/platform/logger';
import { createMetrics } from '../../../src/platform/metrics';
import { consent, inquiriesOf, makeCreditWorld, makeMember } from './helpers';

function appWith(credit: Partial<ReturnType<typeof ctx>['config']['credit']>) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const config = Object.freeze({
    ...ctx().config,
    redisPrefix: `${ctx().config.redisPrefix}:limits${Math.random().toString(36).slice(2, 8)}`,
    credit: Object.freeze({ ...ctx().config.credit, ...credit }),
  });
  const metrics = createMetrics();
  const app = createApp({
    config,
    logger: createLogger('warn', sink),
    redis: ctx().redis,
    tokens: ctx().tokens,
    queues: ctx().queues,
    metrics,
  });
  return { app, lines, metrics };
}

describe('credit look-up limits', () => {
  it('the look-up after the per-minute limit is 429 rate_limited with Retry-After, recorded as an inquiry; other officers are unaffected', async () => {
    const { app } = appWith({ lookupsPerMinute: 3 });
    const w = await makeCreditWorld();
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    const call = (auth: { Authorization: string }) =>
      request(app).get(`/v1/credit/households/${m.id}`).query({ purpose: '贷款审批' }).set(auth);
    const results = await Promise.all(Array.from({ length: 5 }, () => call(w.officer.auth)));
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 429, 429]);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.body.code).to.equal('rate_limited');
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    const colleague = await makeUser('officer', { cooperativeId: w.cooperativeId });
    expect((await call(colleague.auth)).status).to.equal(200);
    const items = await inquiriesOf(m);
    expect(items.map((i) => i.result).sort()).to.deep.equal([
      'ok',
      'ok',
      'ok',
      'ok',
      'rate_limited',
      'rate_limited',
    ]);
  });

  it('an officer who looks up more households in a day than the threshold shows up once in a log line and in the metric', async () => {
    const { app, lines, metrics } = appWith({ lookupsPerMinute: 1000, lookupsPerDayAlert: 3 });
    const w = await makeCreditWorld();
    const members = await Promise.all(Array.from({ length: 6 }, () => makeMember(w.villageId)));
    for (const m of members) await consent(m, w.cooperativeId);
    // The same household again and again does not count as many.
    for (let i = 0; i < 5; i++)
      await request(app)
        .get(`/v1/credit/households/${members[0]!.id}`)
        .query({ purpose: '复查' })
        .set(w.officer.auth)
        .expect(200);
    expect(
      lines.filter((l) => String(l.msg).includes('unusual credit look-up volume')),
    ).to.have.length(0);
    await Promise.all(
      members.map((m) =>
        request(app)
          .get(`/v1/credit/households/${m.id}`)
          .query({ purpose: '批量查询' })
          .set(w.officer.auth)
          .expect(200),
      ),
    );
    const alerts = lines.filter((l) => String(l.msg).includes('unusual credit look-up volume'));
    expect(alerts).to.have.length(1);
    expect(alerts[0]).to.include({
      officerId: w.officer.user.id,
      cooperativeId: w.cooperativeId,
      threshold: 3,
      level: 'warn',
    });
    const text = await metrics.registry.getSingleMetricAsString(
      'credit_unusual_lookup_volume_total',
    );
    expect(text).to.include(
      `credit_unusual_lookup_volume_total{cooperativeId="${w.cooperativeId}"} 1`,
    );
    const scrape = await request(app).get('/metrics');
    expect(scrape.text).to.match(/credit_lookups_total\{result="ok"\} 11/);
  });
});
