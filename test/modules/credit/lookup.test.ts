/**
 * GET /v1/credit/households/:id: consent and service area decide who may look, every officer
 * call is an inquiry the household can see, the same asOf always gives the same answer, and the
 * household reads its own score freely.
 */
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeUser,
  makeVillage,
  verifyChainViaApi,
} from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import {
  award,
  consent,
  deduct,
  inquiriesOf,
  lookUp,
  makeCreditWorld,
  makeMember,
  redeem,
  sleep,
  type CreditWorld,
} from './helpers';

describe('GET /v1/credit/households/:id', () => {
  let w: CreditWorld;
  const realNow = clock.now;

  beforeEach(async () => {
    w = await makeCreditWorld();
  });
  afterEach(() => {
    clock.now = realNow;
  });

  it('returns 403 consent_required without a consent, and the attempt is listed as an inquiry', async () => {
    const m = await makeMember(w.villageId);
    const res = await lookUp(w.officer, m.id, { purpose: '春耕贷款审批' });
    expect(res.status).to.equal(403);
    expect(res.body.code).to.equal('consent_required');
    expect(res.headers['content-type']).to.match(/application\/problem\+json/);
    const items = await inquiriesOf(m);
    expect(items).to.have.length(1);
    expect(items[0]).to.include({
      officerName: w.officer.username,
      cooperativeName: '农村信用合作社',
      cooperativeId: w.cooperativeId,
      purpose: '春耕贷款审批',
      result: 'consent_required',
    });
  });

  it('returns the score, grade, four reasons, asOf and modelVersion with a valid consent, recorded as an ok inquiry', async () => {
    const m = await makeMember(w.villageId);
    await award(m.id, 30, 'best-family');
    await award(m.id, 10);
    await deduct(m.id, 5);
    await consent(m, w.cooperativeId);
    await sleep(2100); // the default asOf lies a settle margin in the past
    const res = await lookUp(w.officer, m.id);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.have.keys(
      'householdId',
      'score',
      'grade',
      'reasons',
      'asOf',
      'modelVersion',
    );
    expect(res.body.householdId).to.equal(m.id);
    expect(
      Number.isInteger(res.body.score) && res.body.score >= 0 && res.body.score <= 1000,
    ).to.equal(true);
    expect(['优秀', '良好', '中等', '一般', '较差']).to.include(res.body.grade);
    expect(res.body.modelVersion).to.equal('msl-credit-v1');
    expect(res.body.reasons.length).to.be.within(1, 4);
    expect(res.body.reasons.map((r: { code: string }) => r.code)).to.include.members([
      'HONOURS',
      'DEDUCTIONS',
    ]);
    expect(Date.parse(res.body.asOf)).to.be.at.most(Date.now() - 2000);
    const items = await inquiriesOf(m);
    expect(items.map((i) => i.result)).to.deep.equal(['ok']);
  });

  it('refuses with 403 after the consent is revoked, and after it expired', async () => {
    const m = await makeMember(w.villageId);
    const id = await consent(m, w.cooperativeId);
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    const del = await http().delete(`/v1/consents/${id}`).set(m.login.auth);
    expect(del.status).to.equal(200);
    expect(del.body.status).to.equal('revoked');
    const revoked = await lookUp(w.officer, m.id);
    expect(revoked.status).to.equal(403);
    expect(revoked.body.code).to.equal('consent_required');

    const m2 = await makeMember(w.villageId);
    await consent(m2, w.cooperativeId, {
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect((await lookUp(w.officer, m2.id)).status).to.equal(200);
    clock.now = () => new Date(Date.now() + 2 * 3_600_000);
    const expired = await lookUp(w.officer, m2.id);
    expect(expired.status).to.equal(403);
    expect(expired.body.code).to.equal('consent_required');
    clock.now = realNow;
    expect((await inquiriesOf(m)).map((i) => i.result)).to.deep.equal(['consent_required', 'ok']);
  });

  it('an officer of cooperative A cannot look up a household that consented only to cooperative B', async () => {
    const m = await makeMember(w.villageId);
    const coopB = await makeCooperative([w.villageId]);
    const officerB = await makeUser('officer', { cooperativeId: coopB.id });
    await consent(m, coopB.id);
    const a = await lookUp(w.officer, m.id);
    expect(a.status).to.equal(403);
    expect(a.body.code).to.equal('consent_required');
    expect((await lookUp(officerB, m.id)).status).to.equal(200);

    // A cooperative C that does not serve the village gets 404, exactly as for no household at all.
    const other = await makeVillage();
    const coopC = await makeCooperative([other.id]);
    const officerC = await makeUser('officer', { cooperativeId: coopC.id });
    const c = await lookUp(officerC, m.id);
    const none = await lookUp(officerC, '0123456789abcdef01234567');
    expect(c.status).to.equal(404);
    expect(none.status).to.equal(404);
    expect(c.body).to.deep.equal(none.body);
    const results = (await inquiriesOf(m)).map(
      (i) =>
        `${i.cooperativeId === w.cooperativeId ? 'A' : i.cooperativeId === coopB.id ? 'B' : 'C'}:${i.result}`,
    );
    expect(results.sort()).to.deep.equal(['A:consent_required', 'B:ok', 'C:not_found']);
  });

  it('a retried or renewed consent never outlives a revocation: the latest consent governs', async () => {
    const m = await makeMember(w.villageId);
    const first = await consent(m, w.cooperativeId);
    const second = await consent(m, w.cooperativeId);
    const list = await http().get('/v1/consents').query({ householdId: m.id }).set(m.login.auth);
    expect(
      list.body.items.map((c: { id: string; status: string }) => [c.id, c.status]),
    ).to.deep.equal([
      [second, 'active'],
      [first, 'superseded'],
    ]);
    await http().delete(`/v1/consents/${second}`).set(m.login.auth).expect(200);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
  });

  it('the same asOf gives identical JSON after 50 more entries were posted (the household’s and its neighbours’)', async () => {
    const m = await makeMember(w.villageId);
    const neighbours = await Promise.all([
      makeMember(w.villageId, '李四'),
      makeMember(w.villageId, '王五'),
    ]);
    await consent(m, w.cooperativeId);
    for (let i = 0; i < 6; i++) await award(m.id, 5 + i);
    await deduct(m.id, 10);
    await award(neighbours[0].id, 40);
    await sleep(50);
    const T = new Date().toISOString();
    await sleep(2100);
    const first = await lookUp(w.officer, m.id, { purpose: '复核', asOf: T });
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.asOf).to.equal(T);
    for (let i = 0; i < 50; i++) {
      const target = [m.id, neighbours[0].id, neighbours[1].id][i % 3]!;
      if (i % 5 === 0) await deduct(target, 3);
      else if (i % 7 === 0) await redeem(target, 1);
      else await award(target, 7, i % 4 === 0 ? 'star-household' : 'volunteer-hour');
    }
    const again = await lookUp(w.officer, m.id, { purpose: '复核', asOf: T });
    expect(again.status).to.equal(200);
    expect(JSON.stringify(again.body)).to.equal(JSON.stringify(first.body));
    // The present has moved on, so the current score differs from the old one.
    await sleep(2100);
    const now = await lookUp(w.officer, m.id);
    expect(now.body.score).to.not.equal(first.body.score);
    await verifyChainViaApi(m.id, (await makeAdmin()).auth);
  });

  it('a date asOf means the end of that day in China Standard Time; an asOf in the future, malformed or an unknown modelVersion is 400 and recorded as refused', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    const dated = await lookUp(w.officer, m.id, { purpose: '贷款', asOf: '2025-06-30' });
    expect(dated.status).to.equal(200);
    expect(dated.body.asOf).to.equal('2025-06-30T15:59:59.999Z'); // 2025-06-30 23:59:59.999 Beijing time
    expect(dated.body.reasons).to.deep.equal([
      { code: 'NO_HISTORY', impact: 0, text: '暂无计入的积分记录，按基准分计算' },
    ]);
    // The same instant written out answers the same.
    const explicit = await lookUp(w.officer, m.id, {
      purpose: '贷款',
      asOf: '2025-06-30T23:59:59.999+08:00',
    });
    expect(explicit.body).to.deep.equal(dated.body);
    // The Beijing date of tomorrow has not ended anywhere yet.
    const tomorrow = new Date(Date.now() + 8 * 3_600_000 + 86_400_000).toISOString().slice(0, 10);
    const queries: Record<string, string>[] = [
      { purpose: '贷款', asOf: tomorrow },
      { purpose: '贷款', asOf: new Date(Date.now() + 60_000).toISOString() },
      { purpose: '贷款', asOf: '2025-02-30' },
      { purpose: '贷款', asOf: 'yesterday' },
      { purpose: '贷款', asOf: '1999-12-31' },
      { purpose: '贷款', modelVersion: 'v0' },
      {}, // an officer must state a purpose
    ];
    for (const query of queries) {
      const res = await lookUp(w.officer, m.id, query);
      expect(res.status, JSON.stringify(query)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    const results = (await inquiriesOf(m)).map((i) => i.result);
    expect(results.filter((r) => r === 'validation_failed')).to.have.length(7);
  });

  it('an asOf of just now waits for the settle margin instead of answering 400, and counts an entry posted just before', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    await award(m.id, 30);
    const asOf = new Date().toISOString();
    const res = await lookUp(w.officer, m.id, { purpose: '贷款', asOf });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.asOf).to.equal(asOf);
    expect(res.body.reasons.map((r: { code: string }) => r.code)).to.include('MERIT_RECENT');
    const own = await http()
      .get(`/v1/credit/households/${m.id}`)
      .query({ asOf: new Date().toISOString() })
      .set(m.login.auth);
    expect(own.status).to.equal(200);
    expect(own.body.score).to.equal(res.body.score);
  });

  it('a consent recorded from a paper form just now covers a look-up as of any earlier date (consent governs the disclosure)', async () => {
    const m = await makeMember(w.villageId);
    await award(m.id, 20);
    const paper = await http()
      .post('/v1/consents')
      .set(w.clerk.auth)
      .send({
        householdId: m.id,
        cooperativeId: w.cooperativeId,
        expiresAt: new Date(Date.now() + 86_400_000 * 30).toISOString(),
        formRef: 'PAPER-2026-001',
      });
    expect(paper.status, JSON.stringify(paper.body)).to.equal(201);
    for (const asOf of ['2025-01-01', new Date().toISOString()]) {
      const res = await lookUp(w.officer, m.id, { purpose: '贷款', asOf });
      expect(res.status, `${asOf}: ${JSON.stringify(res.body)}`).to.equal(200);
    }
    const del = await http().delete(`/v1/consents/${paper.body.id}`).set(w.clerk.auth);
    expect(del.status).to.equal(200);
    expect(
      (await lookUp(w.officer, m.id, { purpose: '贷款', asOf: '2025-01-01' })).status,
    ).to.equal(403);
  });

  it('a household reads its own score without consent and without an inquiry; another household is 404', async () => {
    const m = await makeMember(w.villageId);
    const other = await makeMember(w.villageId);
    await award(m.id, 20);
    const own = await http().get(`/v1/credit/households/${m.id}`).set(m.login.auth);
    expect(own.status, JSON.stringify(own.body)).to.equal(200);
    expect(own.body.householdId).to.equal(m.id);
    const dated = await http()
      .get(`/v1/credit/households/${m.id}`)
      .query({ asOf: '2025-01-01' })
      .set(m.login.auth);
    expect(dated.status).to.equal(200);
    expect(
      (await http().get(`/v1/credit/households/${other.id}`).set(m.login.auth)).status,
    ).to.equal(404);
    expect(await inquiriesOf(m)).to.deep.equal([]);
  });

  it('spending at the supermarket never lowers the score', async () => {
    const m = await makeMember(w.villageId);
    await award(m.id, 80);
    await sleep(20);
    const before = new Date().toISOString();
    await redeem(m.id, 70);
    await sleep(2100);
    const after = new Date(Date.now() - 2000).toISOString();
    const a = await http()
      .get(`/v1/credit/households/${m.id}`)
      .query({ asOf: before })
      .set(m.login.auth);
    const b = await http()
      .get(`/v1/credit/households/${m.id}`)
      .query({ asOf: after })
      .set(m.login.auth);
    expect(b.body.score).to.equal(a.body.score);
  });

  it('other roles cannot look up (403), and 20 concurrent look-ups are 20 inquiries', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    for (const who of [await makeAdmin(), w.clerk]) {
      const res = await http()
        .get(`/v1/credit/households/${m.id}`)
        .query({ purpose: 'x' })
        .set(who.auth);
      expect(res.status).to.equal(403);
    }
    const all = await Promise.all(Array.from({ length: 20 }, () => lookUp(w.officer, m.id)));
    expect(all.map((r) => r.status)).to.deep.equal(Array(20).fill(200));
    expect(new Set(all.map((r) => r.body.score)).size).to.equal(1);
    expect(await inquiriesOf(m)).to.have.length(20);
  });

  it('the household’s inquiry list names the cooperative and the officer (names, not user ids); its clerk also sees the officer’s id', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    const admin = await makeAdmin();
    const created = await http()
      .post('/v1/users')
      .set(admin.auth)
      .send({
        username: `officer-ma-${Date.now()}`,
        password: 'a-long-password-1',
        role: 'officer',
        cooperativeId: w.cooperativeId,
        name: '马建华',
      });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.name).to.equal('马建华');
    const token = ctx().tokens.sign({ sub: created.body.id, role: 'officer' }, 'person');
    expect(
      (
        await http()
          .get(`/v1/credit/households/${m.id}`)
          .query({ purpose: '春耕贷款审批' })
          .set({ Authorization: `Bearer ${token}` })
      ).status,
    ).to.equal(200);
    const own = await http().get(`/v1/households/${m.id}/inquiries`).set(m.login.auth);
    expect(own.status).to.equal(200);
    expect(own.body.items).to.have.length(1);
    expect(own.body.items[0]).to.include({
      officerName: '马建华',
      cooperativeName: '农村信用合作社',
      purpose: '春耕贷款审批',
      result: 'ok',
    });
    expect(own.body.items[0]).to.not.have.property('officerId');
    expect(own.text).to.not.include(created.body.id);
    const staff = await http().get(`/v1/households/${m.id}/inquiries`).set(w.clerk.auth);
    expect(staff.body.items[0]).to.include({ officerId: created.body.id, officerName: '马建华' });
  });

  it('the household’s clerk and the county office see the inquiries too; a household of another village does not', async () => {
    const m = await makeMember(w.villageId);
    await lookUp(w.officer, m.id);
    const admin = await makeAdmin();
    for (const who of [admin, w.clerk]) {
      const res = await http().get(`/v1/households/${m.id}/inquiries`).set(who.auth);
      expect(res.status).to.equal(200);
      expect(res.body.items).to.have.length(1);
    }
    const stranger = await makeUser('household', {
      householdId: (await makeHousehold((await makeVillage()).id)).id,
    });
    expect(
      (await http().get(`/v1/households/${m.id}/inquiries`).set(stranger.auth)).status,
    ).to.equal(404);
  });
});
