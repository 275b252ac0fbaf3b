import { expect } from '../../support/expect';
import { http, makeAdmin, makeUser, makeVillage, unique } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { todayUtc } from '../../../src/platform/clock';
import { RuleVersion } from '../../../src/modules/rules/rules.model';
import { DEMO_RULES, seedDemoRules } from '../../../src/modules/rules/rules.demo';
import {
  capGrant,
  overrideInForce,
  scorePoints,
  versionInForce,
} from '../../../src/modules/rules/rules.service';

const code = () => unique('r').slice(0, 32);

describe('rule catalogue (pure)', () => {
  const versions = [
    { version: 1, effectiveFrom: '2026-03-01' },
    { version: 2, effectiveFrom: '2026-01-01' },
    { version: 3, effectiveFrom: '2026-06-01' },
    { version: 4, effectiveFrom: '2026-06-01' },
  ];
  const cases: [string, number][] = [
    ['2020-01-01', 1], // version 1 is in force for any date before a later version
    ['2025-12-31', 1],
    ['2026-01-01', 2],
    ['2026-05-31', 2],
    ['2026-06-01', 4], // same start: the higher version wins
    ['2030-01-01', 4],
  ];
  for (const [date, v] of cases) {
    it(`scores a deed of ${date} by version ${v}`, () => {
      expect(versionInForce(versions, date)!.version).to.equal(v);
    });
  }

  it('starts a village override only at its own date', () => {
    const overrides = [{ version: 1, effectiveFrom: '2026-02-01' }];
    expect(overrideInForce(overrides, '2026-01-31')).to.equal(undefined);
    expect(overrideInForce(overrides, '2026-02-01')!.version).to.equal(1);
  });

  it('grants up to what is left of the month and the year', () => {
    const used = [0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30];
    expect(capGrant(used, 2, { requested: 5, capPerMonth: 10 })).to.deep.equal({
      granted: 2,
      limitedBy: 'month',
      cap: 10,
      usedBefore: 8,
    });
    expect(capGrant(used, 3, { requested: 5, capPerMonth: 10 })).to.deep.equal({ granted: 5 });
    expect(capGrant(used, 3, { requested: 5, capPerMonth: 10, capPerYear: 40 })).to.deep.equal({
      granted: 2,
      limitedBy: 'year',
      cap: 40,
      usedBefore: 38,
    });
    expect(capGrant(used, 2, { requested: 5, capPerMonth: 8 })).to.deep.equal({
      granted: 0,
      limitedBy: 'month',
      cap: 8,
      usedBefore: 8,
    });
  });

  it('scores rates in whole points, rounding down', () => {
    expect(scorePoints({ pointsPerUnit: 2, unit: '小时' }, 1.5)).to.equal(3);
    expect(scorePoints({ pointsPerUnit: 3, unit: '小时' }, 0.33)).to.equal(0);
    expect(scorePoints({ pointsPerUnit: 3, unit: '小时' }, 2.01)).to.equal(6);
    expect(scorePoints({ points: 50 }, undefined)).to.equal(50);
    expect(() => scorePoints({ points: 50 }, 2)).to.throw();
  });
});

describe('POST /v1/rules', () => {
  it('creates version 1, then the next version in force from today unless given a date', async () => {
    const admin = await makeAdmin();
    const c = code();
    const v1 = await http().post('/v1/rules').set(admin.auth).send({
      code: c,
      title: '志愿服务',
      kind: 'award',
      pointsPerUnit: 2,
      unit: '小时',
      capPerMonth: 40,
    });
    expect(v1.status, JSON.stringify(v1.body)).to.equal(201);
    expect(v1.body).to.include({
      code: c,
      version: 1,
      pointsPerUnit: 2,
      unit: '小时',
      capPerMonth: 40,
      attachmentRequired: false,
    });
    const v2 = await http()
      .post('/v1/rules')
      .set(admin.auth)
      .send({ code: c, title: '志愿服务', kind: 'award', pointsPerUnit: 3, unit: '小时' });
    expect(v2.body).to.include({ version: 2, effectiveFrom: todayUtc() });
    const v3 = await http().post('/v1/rules').set(admin.auth).send({
      code: c,
      title: '志愿服务',
      kind: 'award',
      pointsPerUnit: 4,
      unit: '小时',
      effectiveFrom: '2030-01-01',
    });
    expect(v3.body).to.include({ version: 3, effectiveFrom: '2030-01-01' });
    const all = await http().get(`/v1/rules/${c}`).set(admin.auth);
    expect(all.body.versions.map((v: { version: number }) => v.version)).to.deep.equal([1, 2, 3]);
  });

  it('reads a negative deduction as its size and never lets a kind change', async () => {
    const admin = await makeAdmin();
    const c = code();
    const d = await http()
      .post('/v1/rules')
      .set(admin.auth)
      .send({ code: c, title: '赌博', kind: 'deduction', points: -20 });
    expect(d.body).to.include({ kind: 'deduction', points: 20 });
    const before = await countAll();
    const flip = await http()
      .post('/v1/rules')
      .set(admin.auth)
      .send({ code: c, title: '赌博', kind: 'award', points: 20 });
    expect(flip.status).to.equal(400);
    expect(flip.body.errors[0].path).to.equal('kind');
    await expectNothingStored(before);
  });

  it('numbers concurrent versions of one code 1…n without gaps or twins', async () => {
    const admin = await makeAdmin();
    const c = code();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        http()
          .post('/v1/rules')
          .set(admin.auth)
          .send({ code: c, title: '环境卫生', kind: 'award', points: i + 1 }),
      ),
    );
    expect(results.every((r) => r.status === 201)).to.equal(true);
    expect(results.map((r) => r.body.version).sort((a, b) => a - b)).to.deep.equal([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
  });

  it('refuses bad rules with validation_failed, and anyone but the county office with 403, storing nothing', async () => {
    const admin = await makeAdmin();
    const clerk = await makeUser('clerk', { villageId: (await makeVillage()).id });
    const before = await countAll();
    const bad: Record<string, unknown>[] = [
      { code: code(), title: 'x', kind: 'award' },
      { code: code(), title: 'x', kind: 'award', points: 5, pointsPerUnit: 2, unit: '小时' },
      { code: code(), title: 'x', kind: 'award', pointsPerUnit: 2 },
      { code: code(), title: 'x', kind: 'award', points: 5, unit: '小时' },
      { code: code(), title: 'x', kind: 'award', points: -5 },
      { code: code(), title: 'x', kind: 'award', points: 0 },
      { code: code(), title: 'x', kind: 'award', points: 1.5 },
      { code: code(), title: 'x', kind: 'bonus', points: 5 },
      { code: 'has space', title: 'x', kind: 'award', points: 5 },
      { code: code(), title: 'x', kind: 'award', points: 5, effectiveFrom: '2026-02-30' },
      { code: code(), title: 'x', kind: 'award', points: 5, capPerMonth: 50, capPerYear: 40 },
      { code: code(), title: { $ne: '' }, kind: 'award', points: 5 },
      { code: code(), title: 'x', kind: 'award', points: 5, extra: true },
    ];
    for (const body of bad) {
      const res = await http().post('/v1/rules').set(admin.auth).send(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    expect(
      (
        await http()
          .post('/v1/rules')
          .set(clerk.auth)
          .send({ code: code(), title: 'x', kind: 'award', points: 5 })
      ).status,
    ).to.equal(403);
    await expectNothingStored(before);
  });
});

describe('village overrides and the catalogue in force', () => {
  it("lists a village's catalogue with its overrides, and keeps other villages' apart", async () => {
    const admin = await makeAdmin();
    const v = await makeVillage();
    const clerk = await makeUser('clerk', { villageId: v.id });
    const c = code();
    await http()
      .post('/v1/rules')
      .set(admin.auth)
      .send({ code: c, title: '最美家庭', kind: 'award', points: 30 });
    const o = await http()
      .post(`/v1/rules/${c}/overrides`)
      .set(clerk.auth)
      .send({ villageId: v.id, points: 40, effectiveFrom: '2020-01-01' });
    expect(o.status, JSON.stringify(o.body)).to.equal(201);
    const mine = await http().get(`/v1/rules?villageId=${v.id}`).set(clerk.auth);
    expect(mine.body.items.find((r: { code: string }) => r.code === c)).to.include({
      points: 40,
      overrideVersion: 1,
      inForce: true,
    });
    const county = await http().get('/v1/rules').set(admin.auth);
    expect(county.body.items.find((r: { code: string }) => r.code === c)).to.include({
      points: 30,
    });

    const other = await makeVillage();
    expect((await http().get(`/v1/rules?villageId=${other.id}`).set(clerk.auth)).status).to.equal(
      404,
    );
    expect(
      (
        await http()
          .post(`/v1/rules/${c}/overrides`)
          .set(clerk.auth)
          .send({ villageId: other.id, disabled: true })
      ).status,
    ).to.equal(404);
    expect(
      (
        await http()
          .post(`/v1/rules/${c}/overrides`)
          .set(clerk.auth)
          .send({ villageId: v.id, pointsPerUnit: 2 })
      ).status,
    ).to.equal(400);
    expect(
      (
        await http()
          .post('/v1/rules/no-such-code/overrides')
          .set(clerk.auth)
          .send({ villageId: v.id, disabled: true })
      ).status,
    ).to.equal(404);
    const council = await makeUser('council', { villageId: v.id });
    expect(
      (
        await http()
          .post(`/v1/rules/${c}/overrides`)
          .set(council.auth)
          .send({ villageId: v.id, disabled: true })
      ).status,
    ).to.equal(403);
  });
});

describe('seedDemoRules', () => {
  it('seeds the demo catalogue in Chinese once, however often (and however concurrently) it runs', async () => {
    await Promise.all([seedDemoRules(), seedDemoRules(), seedDemoRules()]);
    expect(await seedDemoRules()).to.equal(0);
    const titles = (
      await RuleVersion.find({ code: { $in: DEMO_RULES.map((r) => r.code) } }).lean()
    ).map((r) => r.title);
    expect(titles).to.have.length(DEMO_RULES.length);
    for (const t of [
      '志愿服务',
      '见义勇为',
      '孝老爱亲',
      '最美家庭',
      '星级文明户',
      '婚事新办',
      '环境卫生',
      '高价彩礼',
      '大操大办',
      '赌博',
      '不赡养老人',
    ])
      expect(titles).to.include(t);
  });
});
