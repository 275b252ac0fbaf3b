/**
 * The configuration cache (platform/config-cache.ts) never outlives a change: a disabled user,
 * a revoked terminal, a new price and a village's new daily limit are seen by the very next
 * request, in this process and in a second API process (test/platform/second-app.child.ts) that
 * had the old values cached.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { expect } from '../support/expect';
import { ctx } from '../support/context';
import { http, makeAdmin, makeVillage } from '../support/factories';
import {
  account,
  makeScene,
  newKey,
  redeemVia,
  verifyTouchedChains,
  type Scene,
} from '../modules/redemption/scene';

describe('config cache: a change is seen at once, in every process', function () {
  this.timeout(120_000);
  let child: ChildProcess;
  let second: () => ReturnType<typeof request>;

  before(async () => {
    const c = ctx();
    child = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(__dirname, 'second-app.child.ts')],
      {
        env: {
          ...process.env,
          MSL_CHILD_URI: c.mongoUri,
          MSL_CHILD_DB: c.config.mongodbDb,
          MSL_CHILD_REDIS_URL: c.redisUrl,
          MSL_CHILD_REDIS_PREFIX: c.config.redisPrefix,
          MSL_CHILD_KEY_DIR: path.join(c.dataDir, 'keys'),
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`second app exited (${code})`)));
    });
    const { port } = JSON.parse(line) as { port: number };
    second = () => request(`http://127.0.0.1:${port}`);
  });

  after(async () => {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  });

  afterEach(verifyTouchedChains);

  const both = () => [
    ['this process', http] as const,
    ['a second process', () => second()] as const,
  ];

  it('a disabled user is refused on the next request in both processes', async () => {
    const actor = await makeAdmin();
    const victim = await makeAdmin();
    const village = await makeVillage();
    for (const [, app] of both())
      expect((await app().get(`/v1/villages/${village.id}`).set(victim.auth)).status).to.equal(200);
    expect(
      (await http().patch(`/v1/users/${victim.user.id}`).set(actor.auth).send({ disabled: true }))
        .status,
    ).to.equal(200);
    for (const [where, app] of both()) {
      const res = await app().get(`/v1/villages/${village.id}`).set(victim.auth);
      expect(res.status, where).to.equal(401);
    }
  });

  it('a revoked terminal is refused on the next request in both processes', async () => {
    const s = await makeScene({ points: 100 });
    const [t] = s.terminals;
    const body = { cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    expect((await redeemVia(t!, newKey(), body)).status).to.equal(201);
    expect(
      (
        await second()
          .post('/v1/redemptions')
          .set(t!.auth)
          .set('Idempotency-Key', newKey())
          .send(body)
      ).status,
    ).to.equal(201);
    const revoked = await http()
      .post(`/v1/stores/${s.storeId}/terminals/${t!.id}/revocation`)
      .set(s.admin.auth);
    expect(revoked.status).to.equal(200);
    expect((await redeemVia(t!, newKey(), body)).status).to.equal(401);
    expect(
      (
        await second()
          .post('/v1/redemptions')
          .set(t!.auth)
          .set('Idempotency-Key', newKey())
          .send(body)
      ).status,
    ).to.equal(401);
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(80);
  });

  const redeemAt = (app: () => ReturnType<typeof request>, s: Scene, qty = 1) =>
    app()
      .post('/v1/redemptions')
      .set(s.terminals[0]!.auth)
      .set('Idempotency-Key', newKey())
      .send({ cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty }] });

  it('a new price is charged by the next redemption in both processes', async () => {
    const s = await makeScene({ points: 200 });
    for (const [, app] of both()) expect((await redeemAt(app, s)).status).to.equal(201); // 10 each
    const patched = await http()
      .patch(`/v1/stores/${s.storeId}/items/RICE`)
      .set(s.admin.auth)
      .send({ points: 25 });
    expect(patched.status).to.equal(200);
    for (const [where, app] of both()) {
      const before = (await account(s, s.households[0]!.id)).spendable;
      const res = await redeemAt(app, s);
      expect(res.status, where).to.equal(201);
      expect((await account(s, s.households[0]!.id)).spendable, where).to.equal(before - 25);
    }
  });

  it("a village's new daily limit holds from the next redemption in both processes", async () => {
    const s = await makeScene({ points: 500 });
    for (const [, app] of both()) expect((await redeemAt(app, s)).status).to.equal(201); // 20 used today
    const patched = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: 25 } });
    expect(patched.status).to.equal(200);
    for (const [where, app] of both()) {
      const res = await redeemAt(app, s);
      expect(res.status, where).to.equal(409);
      expect(res.body.code, where).to.equal('daily_limit_exceeded');
    }
  });
});
