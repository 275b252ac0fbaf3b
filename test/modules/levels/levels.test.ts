/**
 * Levels as records: county centre → township stations → village stations. A village created
 * with {township, county} names is placed under the records of those names (created once, also
 * when many villages race for a new township); villages made before levels existed are placed by
 * an idempotent migration that only adds the two ids; a township officer acts for its villages
 * (reads them, decides their appeals, creates their supervisors) and gets 404 for another's.
 */
import mongoose, { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeUser,
  makeVillage,
  unique,
} from '../../support/factories';
import { County, Township } from '../../../src/modules/levels/levels.model';
import { levelId } from '../../../src/modules/levels/levels.service';
import { Village } from '../../../src/modules/villages/villages.model';
import { migrateVillageLevels } from '../../../src/modules/villages/villages.service';
import { runCli, type CliIo } from '../../../src/cli/commands';
import { makeRule } from '../submissions/scene';

describe('levels: county, township and village stations (LV1, LV2)', () => {
  it('places a village created with {township, county} under those records, and GET /v1/townships/:id lists it', async () => {
    const admin = await makeAdmin();
    const [county, township] = [unique('县'), unique('镇')];
    const res = await http()
      .post('/v1/villages')
      .set(admin.auth)
      .send({ name: '新村', code: unique('LV'), township, county });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({
      township,
      county,
      townshipId: levelId('township', county, township),
      countyId: levelId('county', county),
    });
    const t = await http().get(`/v1/townships/${res.body.townshipId}`).set(admin.auth);
    expect(t.body).to.deep.equal({
      id: res.body.townshipId,
      name: township,
      county,
      countyId: res.body.countyId,
      villageIds: [res.body.id],
    });
    const all = await http().get('/v1/townships').set(admin.auth);
    expect(all.body.items.map((x: { id: string }) => x.id)).to.include(res.body.townshipId);
  });

  it('creates a new township and county once when twenty villages of it are created at the same moment', async () => {
    const [county, township] = [unique('县'), unique('镇')];
    const villages = await Promise.all(
      Array.from({ length: 20 }, (_, i) => makeVillage({ county, township, name: `村${i}` })),
    );
    expect(new Set(villages.map((v) => v.townshipId)).size).to.equal(1);
    const listed = await http()
      .get(`/v1/townships/${villages[0]!.townshipId}`)
      .set((await makeAdmin()).auth);
    expect(listed.body.villageIds).to.have.members(villages.map((v) => v.id));
    expect(await Township.countDocuments({ name: township })).to.equal(1);
    expect(await County.countDocuments({ name: county })).to.equal(1);
    // The same township name in another county is another township.
    const elsewhere = await makeVillage({ county: unique('县'), township });
    expect(elsewhere.townshipId).to.not.equal(villages[0]!.townshipId);
  });

  it('migrates villages created the old way (names only) into the levels, changing nothing else, idempotently; also as a CLI command', async () => {
    const [county, township] = [unique('县'), unique('镇')];
    const existing = await makeVillage({ county, township });
    const raw = mongoose.connection.db!.collection('villages');
    const old = [0, 1, 2].map((i) => ({
      _id: new Types.ObjectId(),
      name: `老村${i}`,
      code: unique('OLD'),
      township: i < 2 ? township : unique('镇'),
      county,
      policy: { quorum: 2, noticePeriod: 'P3D', redemptionDailyLimit: 50 },
      createdAt: new Date('2024-01-02T03:04:05Z'),
      updatedAt: new Date('2024-02-03T04:05:06Z'),
    }));
    await raw.insertMany(old);
    const placed = await migrateVillageLevels();
    expect(placed).to.be.at.least(3);
    for (const o of old) {
      const after = (await raw.findOne({ _id: o._id }))!;
      const { townshipId, countyId, ...rest } = after;
      expect(rest).to.deep.equal(o);
      expect(countyId).to.equal(existing.countyId);
      expect(townshipId).to.equal(levelId('township', county, o.township));
    }
    expect((await raw.findOne({ _id: old[0]!._id }))!.townshipId).to.equal(existing.townshipId);
    expect(await migrateVillageLevels()).to.equal(0);
    expect(await Village.countDocuments({ townshipId: { $exists: false } })).to.equal(0);
    const t = (
      await http()
        .get(`/v1/townships/${existing.townshipId}`)
        .set((await makeAdmin()).auth)
    ).body;
    expect(t.villageIds).to.have.members([
      existing.id,
      old[0]!._id.toHexString(),
      old[1]!._id.toHexString(),
    ]);

    await raw.insertOne({ ...old[2]!, _id: new Types.ObjectId(), code: unique('OLD') });
    const out: string[] = [];
    const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
    const code = await runCli(['migrate-levels'], {
      config: ctx().config,
      logger: ctx().logger,
      io,
      connect: async () => ({ source: 'test', close: async () => undefined }),
    });
    expect([code, out]).to.deep.equal([
      0,
      ['1 village(s) placed under their township and county.'],
    ]);
  });

  it("sets a village's service-order and oversight policy with PATCH /v1/villages/:id (a zero timeout is refused)", async () => {
    const admin = await makeAdmin();
    const v = await makeVillage();
    const patch = (policy: Record<string, unknown>) =>
      http().patch(`/v1/villages/${v.id}`).set(admin.auth).send({ policy });
    const res = await patch({
      orderTimeout: 'PT6H',
      ratedHoursNeedNoVote: true,
      hoursRuleCode: 'volunteer-hour',
      concentrationThreshold: 0.5,
      concentrationMinApprovals: 8,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.policy).to.include({
      orderTimeout: 'PT6H',
      ratedHoursNeedNoVote: true,
      hoursRuleCode: 'volunteer-hour',
      concentrationThreshold: 0.5,
      concentrationMinApprovals: 8,
    });
    for (const bad of [
      { orderTimeout: 'PT0S' },
      { orderTimeout: 'P1M' },
      { concentrationThreshold: 0.1 },
      { hoursRuleCode: 'a b' },
    ]) {
      expect((await patch(bad)).status, JSON.stringify(bad)).to.equal(400);
    }
    expect(
      (await http().get(`/v1/villages/${v.id}`).set(admin.auth)).body.policy.orderTimeout,
    ).to.equal('PT6H');
  });

  describe('the township role', () => {
    const setup = async () => {
      const county = unique('县');
      const township = unique('镇');
      const [a1, a2] = [
        await makeVillage({ county, township, quorum: 1, noticePeriod: 'PT0S' }),
        await makeVillage({ county, township }),
      ];
      const b = await makeVillage({
        county,
        township: unique('镇'),
        quorum: 1,
        noticePeriod: 'PT0S',
      });
      return {
        a1,
        a2,
        b,
        admin: await makeAdmin(),
        townshipA: await makeUser('township', { townshipId: a1.townshipId! }),
        townshipB: await makeUser('township', { townshipId: b.townshipId! }),
      };
    };

    it('is created by the county office with townshipId (required, must exist), and sees only its own township', async () => {
      const w = await setup();
      const create = (body: Record<string, unknown>) =>
        http()
          .post('/v1/users')
          .set(w.admin.auth)
          .send({
            username: unique('twp'),
            password: 'a-long-enough-password',
            role: 'township',
            ...body,
          });
      expect((await create({ townshipId: w.a1.townshipId })).status).to.equal(201);
      expect((await create({})).body.errors[0].path).to.equal('townshipId');
      expect(
        (await create({ townshipId: new Types.ObjectId().toHexString() })).body.errors[0].message,
      ).to.equal('no such township');
      expect(
        (await create({ townshipId: w.a1.townshipId, villageId: w.a1.id })).body.errors[0].path,
      ).to.equal('villageId');
      const mine = await http().get('/v1/townships').set(w.townshipA.auth);
      expect(mine.body.items.map((t: { id: string }) => t.id)).to.deep.equal([w.a1.townshipId]);
      expect(mine.body.items[0].villageIds).to.have.members([w.a1.id, w.a2.id]);
      expect(
        (await http().get(`/v1/townships/${w.b.townshipId}`).set(w.townshipA.auth)).status,
      ).to.equal(404);
      const clerk = await makeUser('clerk', { villageId: w.a1.id });
      expect(
        (await http().get(`/v1/townships/${w.a1.townshipId}`).set(clerk.auth)).status,
      ).to.equal(403);
      const villages = await http().get('/v1/villages').set(w.townshipA.auth);
      expect(villages.body.items.map((v: { id: string }) => v.id)).to.have.members([
        w.a1.id,
        w.a2.id,
      ]);
    });

    it("acts for its villages (households, points, submissions, boards, supervisors) and gets 404 for another township's", async () => {
      const w = await setup();
      const hA = await makeHousehold(w.a1.id);
      const hB = await makeHousehold(w.b.id);
      for (const suffix of ['', '/account', '/entries']) {
        expect(
          (await http().get(`/v1/households/${hA.id}${suffix}`).set(w.townshipA.auth)).status,
        ).to.equal(200);
        expect(
          (await http().get(`/v1/households/${hB.id}${suffix}`).set(w.townshipA.auth)).status,
        ).to.equal(404);
      }
      const list = await http().get('/v1/households').set(w.townshipA.auth);
      expect(list.body.items.map((h: { id: string }) => h.id))
        .to.include(hA.id)
        .and.not.include(hB.id);
      expect(
        (await http().get(`/v1/households?villageId=${w.b.id}`).set(w.townshipA.auth)).status,
      ).to.equal(404);
      expect(
        (await http().get(`/v1/submissions?villageId=${w.b.id}`).set(w.townshipA.auth)).status,
      ).to.equal(404);
      expect(
        (await http().get(`/v1/villages/${w.b.id}/boards?month=2026-01`).set(w.townshipA.auth))
          .status,
      ).to.equal(404);
      expect(
        (await http().get(`/v1/villages/${w.a2.id}/boards?month=2026-01`).set(w.townshipA.auth))
          .status,
      ).to.equal(200);
      const sup = (villageId: string) =>
        http()
          .post('/v1/users')
          .set(w.townshipA.auth)
          .send({
            username: unique('sup'),
            password: 'a-long-enough-password',
            role: 'supervisor',
            villageId,
          });
      expect((await sup(w.a2.id)).status).to.equal(201);
      const outside = await sup(w.b.id);
      expect([outside.status, outside.body.errors[0].message]).to.deep.equal([
        400,
        'no such village',
      ]);
      expect(
        (
          await http()
            .post('/v1/users')
            .set(w.townshipA.auth)
            .send({
              username: unique('clk'),
              password: 'a-long-enough-password',
              role: 'clerk',
              villageId: w.a1.id,
            })
        ).status,
      ).to.equal(403);
      // It writes no points: adjustments and filings are not its to make.
      expect(
        (
          await http()
            .post(`/v1/households/${hA.id}/adjustments`)
            .set(w.townshipA.auth)
            .send({ points: 5, reason: '试' })
        ).status,
      ).to.equal(403);
    });

    it("decides the appeals of its villages (listed in its queue); another township's appeal is 404 and stays pending", async () => {
      const w = await setup();
      const appealIn = async (villageId: string) => {
        const h = await makeHousehold(villageId);
        const clerk = await makeUser('clerk', { villageId });
        const council = await makeUser('council', { villageId });
        const household = await makeUser('household', { householdId: h.id });
        const rule = await makeRule({ kind: 'deduction', points: 10, title: '赌博' });
        const sub = (
          await http()
            .post('/v1/submissions')
            .set(clerk.auth)
            .send({
              villageId,
              householdId: h.id,
              ruleCode: rule.code,
              occurredOn: new Date().toISOString().slice(0, 10),
              evidence: { text: '派出所通报' },
            })
        ).body;
        expect(
          (
            await http()
              .post(`/v1/submissions/${sub.id}/votes`)
              .set(council.auth)
              .send({ decision: 'approve' })
          ).body.status,
        ).to.equal('posted');
        expect(
          (
            await http()
              .post(`/v1/submissions/${sub.id}/appeals`)
              .set(household.auth)
              .send({ reason: '当时只是围观' })
          ).status,
        ).to.equal(201);
        return sub.id as string;
      };
      const inA = await appealIn(w.a1.id);
      const inB = await appealIn(w.b.id);
      const queue = await http().get('/v1/appeals').set(w.townshipA.auth);
      expect(queue.body.items.map((x: { id: string }) => x.id))
        .to.include(inA)
        .and.not.include(inB);
      const other = await http()
        .post(`/v1/submissions/${inB}/appeals/decision`)
        .set(w.townshipA.auth)
        .send({ outcome: 'upheld' });
      expect(other.status).to.equal(404);
      const decided = await http()
        .post(`/v1/submissions/${inA}/appeals/decision`)
        .set(w.townshipA.auth)
        .send({ outcome: 'upheld', comment: '证据不足' });
      expect([decided.status, decided.body.status, decided.body.decidedBy]).to.deep.equal([
        200,
        'upheld',
        w.townshipA.user.id,
      ]);
      expect(
        (await http().get(`/v1/submissions/${inB}`).set(w.admin.auth)).body.appeal.status,
      ).to.equal('pending');
      // The county office still decides any appeal.
      expect(
        (
          await http()
            .post(`/v1/submissions/${inB}/appeals/decision`)
            .set(w.admin.auth)
            .send({ outcome: 'dismissed' })
        ).status,
      ).to.equal(200);
    });
  });
});
