/**
 * Accounts after they are created: an admin disables and re-enables a user, revokes a person's
 * or a terminal's tokens, resets a password; a person changes their own password; sign-in is
 * throttled per client address as well as per username. Every revocation takes effect on the
 * very next request (401), with no token list to scan: the token's version is compared with the
 * principal's, which is loaded by `_id` on every request anyway.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { parseConfig } from '../../../config';
import { createApp } from '../../../src/app';
import { createMetrics } from '../../../src/platform/metrics';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeStore,
  makeTerminal,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../../support/factories';

const signIn = (username: string, password: string) =>
  http().post('/v1/auth/token').send({ grantType: 'password', username, password });

async function freshToken(u: TestUser): Promise<{ Authorization: string }> {
  const res = await signIn(u.username, u.password);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return { Authorization: `Bearer ${res.body.accessToken as string}` };
}

describe('accounts: disable, revoke, passwords', () => {
  let admin: TestUser;
  let villageId: string;
  before(async () => {
    admin = await makeAdmin();
    villageId = (await makeVillage()).id;
  });

  it('PATCH /v1/users/:id {disabled:true} › the user’s next request is 401 and sign-in is refused; re-enabled, old tokens stay dead and a new sign-in works', async () => {
    const clerk = await makeUser('clerk', { villageId });
    const second = await freshToken(clerk);
    expect((await http().get('/v1/me').set(clerk.auth)).status).to.equal(200);

    const off = await http()
      .patch(`/v1/users/${clerk.user.id}`)
      .set(admin.auth)
      .send({ disabled: true });
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    expect(off.body).to.include({ id: clerk.user.id, disabled: true });
    expect(off.body.tokensRevokedAt).to.be.a('string');
    for (const auth of [clerk.auth, second]) {
      const res = await http().get('/v1/me').set(auth);
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('unauthenticated');
    }
    expect((await signIn(clerk.username, clerk.password)).status).to.equal(401);

    const on = await http()
      .patch(`/v1/users/${clerk.user.id}`)
      .set(admin.auth)
      .send({ disabled: false });
    expect(on.body).to.include({ disabled: false });
    expect(
      (await http().get('/v1/me').set(clerk.auth)).status,
      'a token from before the disabling',
    ).to.equal(401);
    expect(
      (
        await http()
          .get('/v1/me')
          .set(await freshToken(clerk))
      ).status,
    ).to.equal(200);
    expect((await http().get(`/v1/users/${clerk.user.id}`).set(admin.auth)).body).to.include({
      disabled: false,
      username: clerk.username,
    });
  });

  it('only an admin manages accounts, and an admin cannot disable their own account', async () => {
    const clerk = await makeUser('clerk', { villageId });
    const council = await makeUser('council', { villageId });
    expect(
      (await http().patch(`/v1/users/${council.user.id}`).set(clerk.auth).send({ disabled: true }))
        .status,
    ).to.equal(403);
    expect(
      (await http().post(`/v1/users/${council.user.id}/token-revocation`).set(clerk.auth)).status,
    ).to.equal(403);
    expect(
      (
        await http()
          .put(`/v1/users/${council.user.id}/password`)
          .set(clerk.auth)
          .send({ newPassword: 'another-long-password' })
      ).status,
    ).to.equal(403);
    const self = await http()
      .patch(`/v1/users/${admin.user.id}`)
      .set(admin.auth)
      .send({ disabled: true });
    expect(self.status).to.equal(409);
    expect((await http().get('/v1/me').set(admin.auth)).status).to.equal(200);
    expect(
      (
        await http()
          .patch(`/v1/users/${'0'.repeat(24)}`)
          .set(admin.auth)
          .send({ disabled: true })
      ).status,
    ).to.equal(404);
  });

  it('POST /v1/users/:id/token-revocation › every token of the person is 401 on its next request; the person signs in again', async () => {
    const officerVillage = await makeUser('council', { villageId });
    const tokens = [
      officerVillage.auth,
      await freshToken(officerVillage),
      await freshToken(officerVillage),
    ];
    for (const t of tokens) expect((await http().get('/v1/me').set(t)).status).to.equal(200);
    const res = await http()
      .post(`/v1/users/${officerVillage.user.id}/token-revocation`)
      .set(admin.auth);
    expect(res.status).to.equal(200);
    for (const t of tokens) expect((await http().get('/v1/me').set(t)).status).to.equal(401);
    expect(
      (
        await http()
          .get('/v1/me')
          .set(await freshToken(officerVillage))
      ).status,
    ).to.equal(200);
  });

  it("POST /v1/stores/:id/terminals/:terminalId/token-revocation › the terminal's token is 401 at once; its secret still signs in", async () => {
    const store = await makeStore([villageId]);
    const terminal = await makeTerminal(store.id);
    expect((await http().get(`/v1/stores/${store.id}`).set(terminal.auth)).status).to.equal(200);
    const res = await http()
      .post(`/v1/stores/${store.id}/terminals/${terminal.id}/token-revocation`)
      .set(admin.auth);
    expect(res.status).to.equal(200);
    expect(res.body.tokensRevokedAt).to.be.a('string');
    expect(res.body.revokedAt).to.equal(null);
    expect((await http().get(`/v1/stores/${store.id}`).set(terminal.auth)).status).to.equal(401);
    const again = await http().post('/v1/auth/token').send({
      grantType: 'client_credentials',
      clientId: terminal.clientId,
      clientSecret: terminal.clientSecret,
    });
    expect(again.status).to.equal(200);
    expect(
      (
        await http()
          .get(`/v1/stores/${store.id}`)
          .set('Authorization', `Bearer ${again.body.accessToken as string}`)
      ).status,
    ).to.equal(200);
  });

  it('PUT /v1/me/password › needs the current password; afterwards every old token is 401, the old password fails and the new one signs in', async () => {
    const council = await makeUser('council', { villageId });
    const other = await freshToken(council);
    const newPassword = `new-${randomBytes(8).toString('hex')}`;
    const wrong = await http()
      .put('/v1/me/password')
      .set(council.auth)
      .send({ currentPassword: 'not-it-at-all', newPassword });
    expect(wrong.status).to.equal(400);
    expect(wrong.body.code).to.equal('validation_failed');
    expect(wrong.body.errors[0].path).to.equal('currentPassword');
    const same = await http()
      .put('/v1/me/password')
      .set(council.auth)
      .send({ currentPassword: council.password, newPassword: council.password });
    expect(same.status).to.equal(400);
    expect(same.body.errors[0].path).to.equal('newPassword');
    const short = await http()
      .put('/v1/me/password')
      .set(council.auth)
      .send({ currentPassword: council.password, newPassword: 'short' });
    expect(short.status).to.equal(400);
    expect(
      (await http().get('/v1/me').set(council.auth)).status,
      'refused changes end no session',
    ).to.equal(200);

    const ok = await http()
      .put('/v1/me/password')
      .set(council.auth)
      .send({ currentPassword: council.password, newPassword });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(204);
    for (const t of [council.auth, other])
      expect((await http().get('/v1/me').set(t)).status).to.equal(401);
    expect((await signIn(council.username, council.password)).status).to.equal(401);
    expect((await signIn(council.username, newPassword)).status).to.equal(200);
  });

  it('PUT /v1/me/password › wrong current passwords count as failed sign-ins: the sixth within a minute is 429', async () => {
    const household = await makeUser('council', { villageId });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (
          await http()
            .put('/v1/me/password')
            .set(household.auth)
            .send({ currentPassword: `guess-${i}`, newPassword: 'whatever-long-enough' })
        ).status,
      );
    }
    expect(statuses).to.deep.equal([400, 400, 400, 400, 400, 429]);
  });

  it('PUT /v1/users/:id/password (admin) › the new password works, the old one and every token do not', async () => {
    const clerk = await makeUser('clerk', { villageId });
    const res = await http()
      .put(`/v1/users/${clerk.user.id}/password`)
      .set(admin.auth)
      .send({ newPassword: 'handed-over-in-person' });
    expect(res.status).to.equal(200);
    expect(res.body.passwordChangedAt).to.be.a('string');
    expect(res.body).to.not.have.property('passwordHash');
    expect((await http().get('/v1/me').set(clerk.auth)).status).to.equal(401);
    expect((await signIn(clerk.username, clerk.password)).status).to.equal(401);
    expect((await signIn(clerk.username, 'handed-over-in-person')).status).to.equal(200);
  });

  it('a terminal token cannot change a password (no password to change)', async () => {
    const store = await makeStore([villageId]);
    const terminal = await makeTerminal(store.id);
    expect(
      (
        await http()
          .put('/v1/me/password')
          .set(terminal.auth)
          .send({ currentPassword: 'x', newPassword: 'long-enough-password' })
      ).status,
    ).to.equal(401);
  });
});

describe('sign-in throttling per client address', function () {
  this.timeout(120_000);

  /** An app with the default per-address limit, believing X-Forwarded-For from loopback proxies only. */
  function appWith(trustProxy: string) {
    const c = ctx();
    const { LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE: _unset, ...env } = process.env;
    const config = parseConfig({
      ...env,
      APP_MODE: 'local',
      DATA_DIR: c.dataDir,
      MONGODB_DB: c.config.mongodbDb,
      REDIS_PREFIX: c.config.redisPrefix,
      PASSWORD_KDF_LOG2N: '12',
      LOG_LEVEL: 'silent',
      TRUST_PROXY: trustProxy,
    });
    expect(config.loginFailuresPerAddressPerMinute, 'the shipped default').to.equal(20);
    return createApp({
      config,
      logger: c.logger,
      redis: c.redis,
      tokens: c.tokens,
      queues: c.queues,
      metrics: createMetrics(),
    });
  }
  const address = () => `198.51.100.${1 + Math.floor(Math.random() * 250)}`;

  it('30 different usernames from one address › the first 20 fail with 401, then 429 rate_limited with Retry-After, even for a right password; another address is unaffected', async () => {
    const app = appWith('loopback');
    const from = address();
    const statuses: number[] = [];
    let limited: request.Response | undefined;
    for (let i = 0; i < 30; i++) {
      const res = await request(app)
        .post('/v1/auth/token')
        .set('X-Forwarded-For', from)
        .send({ grantType: 'password', username: unique('nobody'), password: 'guess-guess' });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 20)).to.deep.equal(Array(20).fill(401));
    expect(statuses.slice(20)).to.deep.equal(Array(10).fill(429));
    expect(limited!.body.code).to.equal('rate_limited');
    expect(Number(limited!.headers['retry-after'])).to.be.within(1, 60);

    const real = await makeUser('clerk', { villageId: (await makeVillage()).id });
    const right = await request(app)
      .post('/v1/auth/token')
      .set('X-Forwarded-For', from)
      .send({ grantType: 'password', username: real.username, password: real.password });
    expect(right.status).to.equal(429);
    const elsewhere = await request(app)
      .post('/v1/auth/token')
      .set('X-Forwarded-For', `203.0.113.${1 + Math.floor(Math.random() * 250)}`)
      .send({ grantType: 'password', username: real.username, password: real.password });
    expect(elsewhere.status).to.equal(200);
  });

  it('with TRUST_PROXY=false (the default) a forged X-Forwarded-For does not dodge the limit: the TCP peer is the address', async () => {
    const app = appWith('false');
    // The TCP peer is this test's loopback address, shared by every earlier sign-in of the run
    // through this limiter's key: count only what this test adds.
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await request(app)
        .post('/v1/auth/token')
        .set('X-Forwarded-For', address())
        .send({ grantType: 'password', username: unique('nobody'), password: 'guess-guess' });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 429).length).to.be.at.least(10);
    expect(statuses.every((s) => s === 401 || s === 429)).to.equal(true);
  });
});
