/**
 * The access log (src/app.ts, pino-http): a line per request says who asked for what and how it
 * ended (method, path, request id, status, time, the terminal's Idempotency-Key), and no
 * credential ever reaches it: not a bearer token, not a board link's secret, not a password in a
 * body. Only named request fields are logged, never the headers as a whole.
 */
import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { ctx } from '../support/context';
import { expect } from '../support/expect';
import { makeScene, newKey, verifyTouchedChains } from '../modules/redemption/scene';

interface AccessLine {
  msg?: string;
  requestId?: string;
  responseTime?: number;
  req?: Record<string, unknown>;
  res?: Record<string, unknown>;
}

describe('access log: what a request line says, and what it never says', function () {
  this.timeout(60_000);
  const lines: string[] = [];
  let app: ReturnType<typeof createApp>;

  before(() => {
    const c = ctx();
    const sink = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    app = createApp({
      config: c.config,
      logger: createLogger('info', sink),
      redis: c.redis,
      tokens: c.tokens,
      queues: c.queues,
    });
  });

  afterEach(verifyTouchedChains);

  const completed = (requestId: string): AccessLine => {
    const found = lines
      .map((l) => JSON.parse(l) as AccessLine)
      .filter((l) => l.msg === 'request completed' && l.requestId === requestId);
    expect(found, `one access line for ${requestId}`).to.have.length(1);
    return found[0]!;
  };

  it('logs a redemption with its method, path, key, status and time, and none of its credentials', async () => {
    const s = await makeScene({ households: 1, points: 100 });
    const t = s.terminals[0]!;
    const token = t.auth.Authorization.replace(/^Bearer /, '');
    const key = newKey();
    const res = await request(app)
      .post('/v1/redemptions')
      .set(t.auth)
      .set('Idempotency-Key', key)
      .set('User-Agent', 'POS-terminal/2.1')
      .send({ cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);

    const line = completed(res.headers['x-request-id'] as string);
    expect(line.req).to.deep.include({
      method: 'POST',
      url: '/v1/redemptions',
      idempotencyKey: key,
      userAgent: 'POS-terminal/2.1',
    });
    expect(line.res).to.deep.include({
      statusCode: 201,
      contentLength: res.headers['content-length'],
    });
    expect(line.responseTime).to.be.a('number');

    const text = lines.join('\n');
    expect(text).to.not.include(token);
    // No headers as a whole: neither the request's (Authorization) nor the response's (the
    // same security headers on every line).
    expect(text.toLowerCase()).to.not.include('authorization');
    expect(text).to.not.include('content-security-policy');
  });

  it('never logs a board link secret, nor a password sent to sign in', async () => {
    const secret = 'A'.repeat(43);
    const screen = await request(app)
      .get('/v1/board-display?month=2026-11')
      .set('Board-Link', secret);
    expect(screen.status).to.equal(401);
    const password = `pw-${newKey()}`;
    const signIn = await request(app)
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: `nobody-${newKey()}`, password });
    expect(signIn.status).to.equal(401);

    expect(completed(screen.headers['x-request-id'] as string).res).to.include({
      statusCode: 401,
    });
    expect(completed(signIn.headers['x-request-id'] as string).req).to.include({
      method: 'POST',
      url: '/v1/auth/token',
    });
    const text = lines.join('\n');
    expect(text).to.not.include(secret);
    expect(text).to.not.include(password);
  });
});
