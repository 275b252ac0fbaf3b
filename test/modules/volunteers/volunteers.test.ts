/**
 * The volunteer register and hours record: a person once, by a keyed hash of the ID number that
 * is never stored, returned or logged; hours as a hash-chained record anyone holding it can
 * check; milestones at 100, 300 and 1,000 hours commended once each.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import canonicalize from 'canonicalize';
import mongoose, { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import { http, makeHousehold, makeUser, makeVillage } from '../../support/factories';
import { createApp } from '../../../src/app';
import { createLogger } from '../../../src/platform/logger';
import { seedDemoRules } from '../../../src/modules/rules/rules.demo';
import { Submission } from '../../../src/modules/submissions/submissions.model';
import { reconcileOrder } from '../../../src/modules/service-orders/service-orders.reconcile';
import { maskIdNumber, normaliseIdNumber } from '../../../src/modules/volunteers/id-number';
import { recordHours } from '../../../src/modules/volunteers/volunteers.service';
import { Volunteer, VolunteerMilestone } from '../../../src/modules/volunteers/volunteers.model';
import request from 'supertest';
import {
  fullLoop,
  makeServiceScene,
  testIdNumber,
  type ServiceScene,
} from '../service-orders/scene';

describe('volunteers (V1, V2, V3)', () => {
  let s: ServiceScene;
  before(async () => {
    s = await makeServiceScene();
  });

  describe('resident ID numbers', () => {
    it('accepts a number with a valid check digit (a lower-case x too, spaces trimmed) and refuses any other', () => {
      expect(normaliseIdNumber('11010519491231002X')).to.equal('11010519491231002X');
      expect(normaliseIdNumber(' 11010519491231002x ')).to.equal('11010519491231002X');
      for (const bad of [
        '110105194912310021',
        '11010519491331002X',
        '1101051949123100',
        '11010518991231002X',
        'ABCDEFGHIJKLMNOPQR',
      ]) {
        expect(normaliseIdNumber(bad), bad).to.equal(undefined);
      }
      expect(maskIdNumber('11010519491231002X')).to.equal('1101**********002X');
    });
  });

  describe('POST /v1/volunteers', () => {
    it('registers a household member by real name: 201 with the masked number and 0 hours; the full number is in no answer and no stored document', async () => {
      const idNumber = testIdNumber();
      const res = await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '赵德明', idNumber, householdId: s.households[3]!.id, phone: '13909370000' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({
        name: '赵德明',
        householdId: s.households[3]!.id,
        villageId: s.villageId,
        hours: 0,
        idNumberMasked: maskIdNumber(idNumber),
      });
      expect(JSON.stringify(res.body)).to.not.contain(idNumber);
      const raw = await mongoose.connection
        .db!.collection('volunteers')
        .findOne({ _id: new Types.ObjectId(res.body.id) });
      expect(JSON.stringify(raw)).to.not.contain(idNumber.slice(4, 14));
      expect(raw!.idHash).to.match(/^[0-9a-f]{64}$/);
      // Not a plain hash of the number (which anyone could recompute by trying numbers).
      expect(raw!.idHash).to.not.equal(createHash('sha256').update(idNumber).digest('hex'));
      const read = await http()
        .get(`/v1/volunteers/${res.body.id}`)
        .set(s.households[3]!.user.auth);
      expect(read.status).to.equal(200);
      expect(JSON.stringify(read.body)).to.not.contain(idNumber);
    });

    it('registers a person once: the same number again (lower-case x, spaces, another village, at once) is 409 and stores nothing', async () => {
      let idNumber = testIdNumber();
      while (!idNumber.endsWith('X')) idNumber = testIdNumber();
      const first = await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '孙丽', idNumber });
      expect(first.status).to.equal(201);
      const before = await Volunteer.countDocuments();
      const otherClerk = await makeUser('clerk', { villageId: s.otherVillageId });
      const again = await Promise.all([
        http()
          .post('/v1/volunteers')
          .set(s.clerk.auth)
          .send({ name: '孙丽', idNumber: ` ${idNumber.toLowerCase()} ` }),
        http().post('/v1/volunteers').set(otherClerk.auth).send({ name: '孙丽', idNumber }),
        http().post('/v1/volunteers').set(s.township.auth).send({ name: '孙丽', idNumber }),
      ]);
      expect(again.map((r) => r.status)).to.deep.equal([409, 409, 409]);
      expect(await Volunteer.countDocuments()).to.equal(before);
      const fresh = testIdNumber();
      const racing = await Promise.all(
        Array.from({ length: 5 }, () =>
          http().post('/v1/volunteers').set(s.clerk.auth).send({ name: '周平', idNumber: fresh }),
        ),
      );
      expect(racing.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409]);
    });

    it('refuses a number with a wrong check digit without repeating it, and a household outside reach as if it did not exist', async () => {
      const good = testIdNumber();
      const bad = `${good.slice(0, 17)}${good[17] === '1' ? '2' : '1'}`;
      const res = await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '钱七', idNumber: bad });
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].path).to.equal('idNumber');
      expect(JSON.stringify(res.body)).to.not.contain(bad);
      const elsewhere = await makeHousehold(s.otherVillageId);
      const outside = await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '钱七', idNumber: good, householdId: elsewhere.id });
      const none = await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '钱七', idNumber: good, householdId: new Types.ObjectId().toHexString() });
      expect([outside.status, outside.body.errors]).to.deep.equal([none.status, none.body.errors]);
      expect(
        (
          await http()
            .post('/v1/volunteers')
            .set(s.council[0]!.auth)
            .send({ name: '钱七', idNumber: good })
        ).status,
      ).to.equal(403);
    });

    it('never writes the ID number to the log: request logs, error logs and an object logged with it', async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const logger = createLogger('trace', sink);
      const app = createApp({ ...ctx(), logger });
      const idNumber = testIdNumber();
      await request(app).post('/v1/volunteers').set(s.clerk.auth).send({ name: '冯八', idNumber });
      await request(app).post('/v1/volunteers').set(s.clerk.auth).send({ name: '冯八', idNumber });
      await request(app)
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '冯八', idNumber: `${idNumber}0` });
      logger.info({ idNumber, body: { idNumber } }, 'a careless log line');
      expect(lines.length).to.be.above(3);
      expect(lines.join('')).to.not.contain(idNumber);
    });
  });

  describe('reach', () => {
    it('a clerk or council of another village and another township get 404; the village, its supervisor and its township read it', async () => {
      const v = s.volunteers[0]!;
      const other = await makeVillage({ county: s.county });
      for (const who of [
        await makeUser('clerk', { villageId: other.id }),
        await makeUser('council', { villageId: other.id }),
        s.otherTownship,
      ]) {
        expect((await http().get(`/v1/volunteers/${v.id}`).set(who.auth)).status).to.equal(404);
        expect((await http().get(`/v1/volunteers/${v.id}/hours`).set(who.auth)).status).to.equal(
          404,
        );
      }
      for (const who of [
        s.clerk,
        s.council[0]!,
        s.supervisor,
        s.township,
        s.admin,
        s.households[0]!.user,
      ]) {
        expect((await http().get(`/v1/volunteers/${v.id}`).set(who.auth)).status).to.equal(200);
      }
      expect(
        (await http().get(`/v1/volunteers/${v.id}`).set(s.households[2]!.user.auth)).status,
      ).to.equal(404);
      const list = await http().get('/v1/volunteers').set(s.township.auth);
      expect(list.body.items.map((x: { id: string }) => x.id)).to.include(v.id);
      expect(
        (await http().get(`/v1/volunteers?villageId=${s.otherVillageId}`).set(s.township.auth))
          .status,
      ).to.equal(404);
    });
  });

  describe('GET /v1/volunteers/:id/hours', () => {
    it('lists every rated order with its hours and date, and the record verifies from the answer alone (hash chain)', async () => {
      const sc = await makeServiceScene();
      const a = await fullLoop(sc, [2, 1, 1]);
      const b = await fullLoop(sc, [3.5, 1, 1]);
      const res = await http()
        .get(`/v1/volunteers/${sc.volunteers[0]!.id}/hours`)
        .set(sc.clerk.auth);
      expect(res.body.total).to.equal(5.5);
      expect(
        res.body.items.map((i: { orderId: string; hours: number }) => [i.orderId, i.hours]),
      ).to.deep.equal([
        [a.id, 2],
        [b.id, 3.5],
      ]);
      let prev = '0'.repeat(64);
      let total = 0;
      for (const item of res.body.items) {
        total += item.hours;
        expect(item.prevHash).to.equal(prev);
        expect(item.totalAfter).to.equal(total);
        const { hash, ...rest } = item;
        const content = {
          volunteerId: sc.volunteers[0]!.id,
          seq: rest.seq,
          orderId: rest.orderId,
          hours: rest.hours,
          date: rest.date,
          totalAfter: rest.totalAfter,
          prevHash: rest.prevHash,
        };
        expect(createHash('sha256').update(canonicalize(content)!).digest('hex')).to.equal(hash);
        prev = hash;
      }
      // Each item agrees with the order it names.
      const order = (await http().get(`/v1/service-orders/${a.id}`).set(sc.clerk.auth)).body;
      expect(
        order.hours.find((h: { volunteerId: string }) => h.volunteerId === sc.volunteers[0]!.id)
          .hours,
      ).to.equal(2);
    });

    it('commends the milestones at 100, 300 and 1,000 hours once each, for the council; an outside volunteer’s are recorded without a submission', async function () {
      this.timeout(120_000);
      await seedDemoRules();
      const sc = await makeServiceScene();
      const v = sc.volunteers[0]!;
      const past = (hours: number) =>
        recordHours({
          volunteerId: v.id,
          orderId: new Types.ObjectId().toHexString(),
          hours,
          date: '2025-01-01',
        });
      await past(98);
      await recordHours({
        volunteerId: sc.outsider.id,
        orderId: new Types.ObjectId().toHexString(),
        hours: 99,
        date: '2025-01-01',
      });
      const first = await fullLoop(sc, [3, 1, 2]); // 98 + 3 = 101: the 100-hour milestone
      await Promise.all([reconcileOrder(first.id), reconcileOrder(first.id)]);
      await fullLoop(sc, [2, 1, 1]); // 103: nothing new
      await past(194); // 297
      await fullLoop(sc, [4, 1, 1]); // 301: the 300-hour milestone
      await past(698); // 999
      await fullLoop(sc, [24, 1, 1]); // 1,023: the 1,000-hour milestone
      const commendations = await Submission.find({
        volunteerId: v.id,
        milestoneHours: { $exists: true },
      }).lean();
      expect(commendations.map((c) => c.milestoneHours).sort((x, y) => x! - y!)).to.deep.equal([
        100, 300, 1000,
      ]);
      for (const c of commendations) {
        expect(c.householdIds).to.deep.equal([sc.households[0]!.id]);
        expect(c.ruleCode).to.equal('volunteer-milestone');
        expect(c.status).to.equal('in_review');
        expect(c.evidence.text).to.contain(`${c.milestoneHours}小时`);
      }
      const hours = (await http().get(`/v1/volunteers/${v.id}/hours`).set(sc.clerk.auth)).body;
      expect(
        hours.milestones.map((m: { hours: number; submissionId: string | null }) => [
          m.hours,
          Boolean(m.submissionId),
        ]),
      ).to.deep.equal([
        [100, true],
        [300, true],
        [1000, true],
      ]);
      const outsider = await VolunteerMilestone.find({ volunteerId: sc.outsider.id }).lean();
      expect(outsider.map((m) => [m.hours, m.submissionId ?? null, m.skipped])).to.deep.equal([
        [100, null, 'no_household'],
      ]);
    });
  });
});
