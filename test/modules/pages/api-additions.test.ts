/**
 * The small API additions the pages need: household search, cooperatives list, the counter's
 * card and day report, the points preview, the officer's search and score trend, users list,
 * evidence photos. Each through HTTP as the page calls it, on the real database and Redis.
 */
import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeUser,
  makeVillage,
  unique,
} from '../../support/factories';
import { award, consent, deduct, inDays, inquiriesOf, makeMember } from '../credit/helpers';
import { fund, newKey } from '../redemption/scene';
import { makeRule } from '../submissions/scene';
import { createItem } from '../../../src/modules/stores/items.service';
import { updateVillagePolicy } from '../../../src/modules/villages/villages.service';
import { setCardPin } from '../../../src/modules/redemption/pin.service';
import { ctx } from '../../support/context';

const today = () => new Date().toISOString().slice(0, 10);

describe('page API additions', () => {
  describe('GET /v1/households?q= (clerk search)', () => {
    it('finds a household of the village by whole card number (any case) or part of a name, never one of another village', async () => {
      const v = await makeVillage();
      const other = await makeVillage();
      const card = unique('SRCH').toUpperCase();
      const mine = await makeHousehold(v.id, { head: '欧阳明月', cardNo: card });
      await makeHousehold(other.id, { head: '欧阳明星' });
      const clerk = await makeUser('clerk', { villageId: v.id });
      const byCard = await http()
        .get('/v1/households')
        .query({ q: card.toLowerCase() })
        .set(clerk.auth);
      expect(byCard.status).to.equal(200);
      expect(byCard.body.items.map((h: { id: string }) => h.id)).to.deep.equal([mine.id]);
      const byName = await http().get('/v1/households').query({ q: '欧阳' }).set(clerk.auth);
      expect(byName.body.items.map((h: { id: string }) => h.id)).to.deep.equal([mine.id]);
      const partCard = await http()
        .get('/v1/households')
        .query({ q: card.slice(0, 6) })
        .set(clerk.auth);
      expect(partCard.body.items).to.have.length(0);
      const elsewhere = await http()
        .get('/v1/households')
        .query({ q: '欧阳', villageId: other.id })
        .set(clerk.auth);
      expect(elsewhere.status).to.equal(404);
    });
  });

  describe('GET /v1/cooperatives', () => {
    it('lists all for the county office, its own for an officer, those serving the village for a household', async () => {
      const v = await makeVillage();
      const served = await makeCooperative([v.id]);
      const elsewhere = await makeCooperative([(await makeVillage()).id]);
      const h = await makeHousehold(v.id);
      const admin = await makeAdmin();
      const household = await makeUser('household', { householdId: h.id });
      const officer = await makeUser('officer', { cooperativeId: elsewhere.id });
      const ids = async (auth: Record<string, string>) =>
        ((await http().get('/v1/cooperatives').set(auth)).body.items as { id: string }[]).map(
          (c) => c.id,
        );
      expect(await ids(admin.auth)).to.include.members([served.id, elsewhere.id]);
      expect(await ids(household.auth)).to.deep.equal([served.id]);
      expect(await ids(officer.auth)).to.deep.equal([elsewhere.id]);
    });
  });

  describe('counter: GET /v1/cards/:cardNo and GET /v1/stores/:id/day-report', () => {
    it('shows the masked head, spendable points and PIN state, and 404 for a card of a village the store does not serve', async () => {
      const v = await makeVillage();
      await updateVillagePolicy(v.id, { redemptionDailyLimit: 300 });
      const store = await makeStore([v.id]);
      const terminal = await makeTerminal(store.id);
      const h = await makeHousehold(v.id, { head: '张三明' });
      await fund(h.id, 120);
      await setCardPin(
        { id: 'test', kind: 'person', role: 'admin' },
        h.id,
        '2468',
        ctx().config.passwordKdfLog2N,
      );
      const res = await http().get(`/v1/cards/${h.cardNo}`).set(terminal.auth);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({
        cardNo: h.cardNo,
        headMasked: '张*明',
        spendable: 120,
        pinSet: true,
        lockedUntil: null,
        dailyLimit: 300,
      });
      expect(JSON.stringify(res.body)).not.to.contain('张三明');
      const foreign = await makeHousehold((await makeVillage()).id);
      expect((await http().get(`/v1/cards/${foreign.cardNo}`).set(terminal.auth)).status).to.equal(
        404,
      );
    });

    it('reports the day’s sales per item with stock, leaving out refused and reversed redemptions', async () => {
      const v = await makeVillage();
      const store = await makeStore([v.id]);
      const terminal = await makeTerminal(store.id);
      await createItem(store.id, { sku: 'RICE', name: '大米', points: 20, stock: 10 });
      await createItem(store.id, { sku: 'SOAP', name: '肥皂', points: 5, stock: 10 });
      const h = await makeHousehold(v.id);
      await fund(h.id, 60);
      const redeem = (items: { sku: string; qty: number }[]) =>
        http()
          .post('/v1/redemptions')
          .set(terminal.auth)
          .set('Idempotency-Key', newKey())
          .send({ cardNo: h.cardNo, items });
      expect(
        (
          await redeem([
            { sku: 'RICE', qty: 1 },
            { sku: 'SOAP', qty: 2 },
          ])
        ).status,
      ).to.equal(201);
      const reversedOne = await redeem([{ sku: 'SOAP', qty: 1 }]);
      expect(
        (await http().post(`/v1/redemptions/${reversedOne.body.id}/reversal`).set(terminal.auth))
          .status,
      ).to.equal(201);
      expect((await redeem([{ sku: 'RICE', qty: 3 }])).status).to.equal(409);
      const report = await http().get(`/v1/stores/${store.id}/day-report`).set(terminal.auth);
      expect(report.status, JSON.stringify(report.body)).to.equal(200);
      expect(report.body.sales).to.deep.equal({ count: 1, points: 30 });
      expect(report.body.reversed).to.deep.equal({ count: 1, points: 5 });
      expect(report.body.refused).to.equal(1);
      expect(report.body.items).to.deep.equal([
        { sku: 'RICE', name: '大米', qtySold: 1, pointsSold: 20, stock: 9 },
        { sku: 'SOAP', name: '肥皂', qtySold: 2, pointsSold: 10, stock: 8 },
      ]);
      const otherStore = await makeStore([v.id]);
      expect(
        (await http().get(`/v1/stores/${otherStore.id}/day-report`).set(terminal.auth)).status,
      ).to.equal(404);
    });
  });

  describe('GET /v1/rules/:code/preview', () => {
    it('gives the rule’s points for the quantity, reduced by what the household used of its monthly cap, and files nothing', async () => {
      const v = await makeVillage();
      const h = await makeHousehold(v.id);
      const clerk = await makeUser('clerk', { villageId: v.id });
      const rule = await makeRule({
        code: unique('PV').slice(0, 32),
        pointsPerUnit: 3,
        unit: '小时',
        capPerMonth: 10,
      });
      const preview = (quantity: string) =>
        http()
          .get(`/v1/rules/${rule.code}/preview`)
          .query({ villageId: v.id, householdId: h.id, occurredOn: today(), quantity })
          .set(clerk.auth);
      const first = await preview('2.5');
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(first.body).to.include({ requestedPoints: 7, points: 7, capped: null, kind: 'award' });
      const filed = await http()
        .post('/v1/submissions')
        .set(clerk.auth)
        .send({
          villageId: v.id,
          householdId: h.id,
          ruleCode: rule.code,
          quantity: 2.5,
          occurredOn: today(),
          evidence: { text: '志愿服务' },
        });
      expect(filed.status).to.equal(201);
      const second = await preview('2');
      expect(second.body).to.include({ requestedPoints: 6, points: 3 });
      expect(second.body.capped).to.deep.equal({ limitedBy: 'month', cap: 10, usedBefore: 7 });
      const missing = await http()
        .get(`/v1/rules/${rule.code}/preview`)
        .query({ villageId: v.id, householdId: h.id, occurredOn: today() })
        .set(clerk.auth);
      expect(missing.status).to.equal(400);
      expect(missing.body.errors[0].path).to.equal('query.quantity');
    });
  });

  describe('officer: GET /v1/credit/households and GET /v1/credit/households/:id/history', () => {
    it('lists only households with a valid consent to the officer’s cooperative, names masked, and records no inquiry', async () => {
      const v = await makeVillage();
      const coop = await makeCooperative([v.id]);
      const officer = await makeUser('officer', { cooperativeId: coop.id });
      const yes = await makeMember(v.id, '王大锤');
      const no = await makeMember(v.id, '王小锤');
      const revoked = await makeMember(v.id, '王中锤');
      await consent(yes, coop.id);
      const c = await consent(revoked, coop.id);
      expect((await http().delete(`/v1/consents/${c}`).set(revoked.login.auth)).status).to.equal(
        200,
      );
      const res = await http().get('/v1/credit/households').query({ q: '锤' }).set(officer.auth);
      expect(res.status).to.equal(200);
      expect(res.body.items.map((r: { householdId: string }) => r.householdId)).to.deep.equal([
        yes.id,
      ]);
      expect(res.body.items[0].headMasked).to.equal('王*锤');
      expect(JSON.stringify(res.body)).not.to.contain('王大锤');
      expect(await inquiriesOf(yes)).to.have.length(0);
      expect(no.id).to.be.a('string');
    });

    it('gives 24 month-end scores whose last equals the look-up, records one inquiry naming the trend, and needs consent and a purpose', async () => {
      const v = await makeVillage();
      const coop = await makeCooperative([v.id]);
      const officer = await makeUser('officer', { cooperativeId: coop.id });
      const m = await makeMember(v.id);
      await award(m.id, 40);
      await deduct(m.id, 10);
      const noConsent = await http()
        .get(`/v1/credit/households/${m.id}/history`)
        .query({ purpose: '贷款审批' })
        .set(officer.auth);
      expect(noConsent.status).to.equal(403);
      expect(noConsent.body.code).to.equal('consent_required');
      await consent(m, coop.id);
      const noPurpose = await http().get(`/v1/credit/households/${m.id}/history`).set(officer.auth);
      expect(noPurpose.status).to.equal(400);
      const res = await http()
        .get(`/v1/credit/households/${m.id}/history`)
        .query({ purpose: '贷款审批' })
        .set(officer.auth);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.points).to.have.length(24);
      const months = res.body.points.map((p: { month: string }) => p.month);
      expect([...months].sort()).to.deep.equal(months);
      const last = res.body.points[23];
      const same = await http()
        .get(`/v1/credit/households/${m.id}`)
        .query({ purpose: '贷款审批', asOf: last.asOf })
        .set(officer.auth);
      expect(same.body.score).to.equal(last.score);
      const firstMonth = res.body.points[0];
      const then = await http()
        .get(`/v1/credit/households/${m.id}`)
        .query({ purpose: '贷款审批', asOf: firstMonth.asOf })
        .set(officer.auth);
      expect(then.body.score).to.equal(firstMonth.score);
      const inquiries = await inquiriesOf(m);
      expect(
        inquiries.filter((i) => i.purpose.includes('24个月趋势') && i.result === 'ok'),
      ).to.have.length(1);
      const own = await http()
        .get(`/v1/credit/households/${m.id}/history`)
        .query({ months: '6' })
        .set(m.login.auth);
      expect(own.status).to.equal(200);
      expect(own.body.points).to.have.length(6);
      expect((await inquiriesOf(m)).length).to.equal(inquiries.length);
      expect(inDays(1)).to.be.a('string');
    });
  });

  describe('GET /v1/users', () => {
    it('lists users for the county office with their disabled flag, and only the village’s council and household logins for a clerk', async () => {
      const v = await makeVillage();
      const h = await makeHousehold(v.id);
      const clerk = await makeUser('clerk', { villageId: v.id });
      const member = await makeUser('council', { villageId: v.id });
      const login = await makeUser('household', { householdId: h.id });
      await makeUser('clerk', { villageId: v.id });
      const admin = await makeAdmin();
      const all = await http()
        .get('/v1/users')
        .query({ villageId: v.id, limit: '500' })
        .set(admin.auth);
      expect(all.status).to.equal(200);
      expect(all.body.items.map((u: { username: string }) => u.username)).to.include.members([
        clerk.username,
        member.username,
        login.username,
      ]);
      expect(all.body.items[0]).to.have.property('disabled', false);
      expect(JSON.stringify(all.body)).not.to.match(/password/i);
      const mine = await http().get('/v1/users').set(clerk.auth);
      expect(mine.body.items.map((u: { username: string }) => u.username).sort()).to.deep.equal(
        [member.username, login.username].sort(),
      );
    });

    it('finds accounts by the start of their username (prefix), page by page; a prefix outside the username alphabet is 400', async () => {
      const v = await makeVillage();
      const admin = await makeAdmin();
      const first = await makeUser('clerk', { villageId: v.id });
      const stem = first.username.slice(0, -3);
      const names = (res: { body: { items: { username: string }[] } }) =>
        res.body.items.map((u) => u.username);
      const found = await http().get('/v1/users').query({ prefix: first.username }).set(admin.auth);
      expect(found.status).to.equal(200);
      expect(names(found)).to.deep.equal([first.username]);
      // Every name under a shorter stem starts with it, in order, and pages go on within it.
      const page1 = await http()
        .get('/v1/users')
        .query({ prefix: stem, limit: '1' })
        .set(admin.auth);
      expect(names(page1)).to.have.length(1);
      expect(names(page1)[0]!.startsWith(stem)).to.equal(true);
      if (page1.body.next) {
        const page2 = await http()
          .get('/v1/users')
          .query({ prefix: stem, after: page1.body.next, limit: '500' })
          .set(admin.auth);
        for (const n of names(page2)) {
          expect(n.startsWith(stem), n).to.equal(true);
          expect(n > page1.body.next, n).to.equal(true);
        }
      }
      const none = await http()
        .get('/v1/users')
        .query({ prefix: `${first.username}zz` })
        .set(admin.auth);
      expect(names(none)).to.deep.equal([]);
      const bad = await http().get('/v1/users').query({ prefix: '张三' }).set(admin.auth);
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('validation_failed');
    });
  });

  describe('POST /v1/attachments and GET /v1/attachments/:id', () => {
    const jpeg = () =>
      Buffer.concat([
        Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
        randomBytes(64),
        Buffer.from([0xff, 0xd9]),
      ]);

    it('stores exactly the bytes uploaded and serves them to the village council, not to another village', async () => {
      const v = await makeVillage();
      const clerk = await makeUser('clerk', { villageId: v.id });
      const council = await makeUser('council', { villageId: v.id });
      const outsider = await makeUser('council', { villageId: (await makeVillage()).id });
      const bytes = jpeg();
      const up = await http()
        .post('/v1/attachments')
        .set(clerk.auth)
        .send({ villageId: v.id, contentType: 'image/jpeg', data: bytes.toString('base64') });
      expect(up.status, JSON.stringify(up.body)).to.equal(201);
      expect(up.body.ref).to.equal(`attachment:${up.body.id}`);
      const got = await http()
        .get(`/v1/attachments/${up.body.id}`)
        .set(council.auth)
        .buffer(true)
        .parse((res, cb) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      expect(got.status).to.equal(200);
      expect(got.headers['content-type']).to.equal('image/jpeg');
      expect(Buffer.compare(got.body as Buffer, bytes)).to.equal(0);
      expect(
        (await http().get(`/v1/attachments/${up.body.id}`).set(outsider.auth)).status,
      ).to.equal(404);
    });

    it('refuses a file that is not the declared image type', async () => {
      const v = await makeVillage();
      const clerk = await makeUser('clerk', { villageId: v.id });
      const res = await http()
        .post('/v1/attachments')
        .set(clerk.auth)
        .send({
          villageId: v.id,
          contentType: 'image/png',
          data: Buffer.from('<script>alert(1)</script>').toString('base64'),
        });
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].path).to.equal('contentType');
    });
  });
});
