import { expect } from '../../support/expect';
import { http, makeHousehold, makeUser, makeVillage } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { CapClaim } from '../../../src/modules/rules/rules.model';
import { file, fileVia, getSub, makeCouncilScene, makeRule, voteVia } from './scene';

/** A backdating window wide enough for the fixed dates these tests file (ten years; the default is 90 days). */
const WIDE = 3660;
describe('POST /v1/submissions', () => {
  it('files an award in review with the points of the rule, and the clerk, council and the household concerned read it (neighbours only once it is in notice: visibility.test.ts)', async () => {
    const s = await makeCouncilScene();
    const res = await fileVia(s);
    expect(res.status).to.equal(201);
    expect(res.body).to.include({
      status: 'in_review',
      points: 10,
      ruleCode: s.rule.code,
      ruleVersion: 1,
      kind: 'award',
      householdId: s.households[1]!.id,
      capped: null,
    });
    expect(res.body.id).to.match(/^[a-f0-9]{24}$/);
    for (const who of [s.clerk, s.council[1]!, s.households[1]!.user, s.admin]) {
      const got = await http().get(`/v1/submissions/${res.body.id}`).set(who.auth);
      expect(got.status, who.user.role).to.equal(200);
      expect(got.body.history[0]).to.include({ type: 'filed', by: s.clerk.user.id });
    }
  });

  it('gives a deduction negative points and tells the household it was filed', async () => {
    const s = await makeCouncilScene({ rule: { kind: 'deduction', points: 20, title: '赌博' } });
    const sub = await file(s);
    expect(sub).to.include({ kind: 'deduction', points: -20 });
    const inbox = await http()
      .get(`/v1/households/${s.households[1]!.id}/notifications`)
      .set(s.households[1]!.user.auth);
    expect(inbox.status).to.equal(200);
    expect(inbox.body.items[0]).to.include({ kind: 'deduction_filed', submissionId: sub.id });
    expect(inbox.body.items[0].body).to.contain('赌博');
  });

  it('scores a rate rule by quantity, rounding down to whole points', async () => {
    const s = await makeCouncilScene({
      rule: { pointsPerUnit: 3, unit: '小时', title: '志愿服务' },
    });
    expect((await file(s, { quantity: 2.5 })).points).to.equal(7);
    expect((await file(s, { quantity: 4 })).points).to.equal(12);
    const missing = await fileVia(s, {});
    expect(missing.status).to.equal(400);
    expect(missing.body.errors[0].path).to.equal('quantity');
  });

  it('scores by the rule version in force on occurredOn, and a later version never changes a filed submission', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      rule: { points: 10, effectiveFrom: '2026-01-01' },
    });
    const before = await file(s, { occurredOn: '2025-06-01' }); // version 1 is in force for any date
    const v2 = await http().post('/v1/rules').set(s.admin.auth).send({
      code: s.rule.code,
      title: s.rule.title,
      kind: 'award',
      points: 25,
      effectiveFrom: '2026-02-01',
    });
    expect(v2.status).to.equal(201);
    expect(v2.body).to.include({ version: 2, points: 25, effectiveFrom: '2026-02-01' });
    expect((await file(s, { occurredOn: '2026-01-31' })).points).to.equal(10);
    const after = await file(s, { occurredOn: '2026-02-01' });
    expect(after).to.include({ points: 25, ruleVersion: 2 });
    expect(await getSub(s, before.id)).to.include({ points: 10, ruleVersion: 1 });
  });

  it('requires an attachment when the rule says so', async () => {
    const s = await makeCouncilScene({
      rule: { attachmentRequired: true, title: '见义勇为', points: 50 },
    });
    const before = await countAll();
    const res = await fileVia(s, { evidence: { text: '落水救人' } });
    expect(res.status).to.equal(400);
    expect(res.body.errors[0].path).to.equal('evidence.attachments');
    await expectNothingStored(before);
    expect(
      (await file(s, { evidence: { text: '落水救人', attachments: ['photo-2026-001.jpg'] } }))
        .points,
    ).to.equal(50);
  });

  it('follows village overrides: a village switches a rule off, or sets its own points, from a date', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      rule: { points: 10, effectiveFrom: '2020-01-01' },
    });
    const own = await http()
      .post(`/v1/rules/${s.rule.code}/overrides`)
      .set(s.clerk.auth)
      .send({ villageId: s.villageId, points: 15, effectiveFrom: '2025-01-01' });
    expect(own.status, JSON.stringify(own.body)).to.equal(201);
    expect((await file(s, { occurredOn: '2024-12-31' })).points).to.equal(10);
    expect(await file(s, { occurredOn: '2025-01-01' })).to.include({
      points: 15,
      overrideVersion: 1,
    });
    const off = await http()
      .post(`/v1/rules/${s.rule.code}/overrides`)
      .set(s.admin.auth)
      .send({ villageId: s.villageId, disabled: true, effectiveFrom: '2025-06-01' });
    expect(off.status).to.equal(201);
    const refused = await fileVia(s, { occurredOn: '2025-06-01' });
    expect(refused.status).to.equal(400);
    expect(refused.body.errors[0].path).to.equal('ruleCode');
    // Another village still uses the county rule.
    const other = await makeCouncilScene({ occurredOnWindowDays: WIDE });
    expect((await file({ ...other, rule: s.rule }, { occurredOn: '2025-06-01' })).points).to.equal(
      10,
    );
  });

  it('refuses bad input with validation_failed (or 404 outside reach) and stores nothing', async () => {
    const s = await makeCouncilScene();
    const otherVillage = await makeVillage();
    const stranger = await makeHousehold(otherVillage.id);
    const retired = await makeRule();
    await makeRule({ code: retired.code, retired: true, effectiveFrom: '2000-01-01' });
    const otherClerk = await makeUser('clerk', { villageId: otherVillage.id });
    const before = await countAll();
    const bad: [Record<string, unknown>, number, string?][] = [
      [{ ruleCode: 'no-such-rule' }, 400, 'ruleCode'],
      [{ ruleCode: retired.code }, 400, 'ruleCode'],
      [{ householdId: stranger.id }, 400, 'householdId'],
      [{ householdId: '0123456789abcdef01234567' }, 400, 'householdId'],
      [{ occurredOn: '2999-01-01' }, 400, 'occurredOn'],
      [{ occurredOn: '2026-02-30' }, 400, 'occurredOn'],
      [{ occurredOn: { $gt: '' } }, 400, 'occurredOn'],
      [{ quantity: 2 }, 400, 'quantity'],
      [{ quantity: -1 }, 400, 'quantity'],
      [{ evidence: {} }, 400, 'evidence.text'],
      [{ evidence: { text: 'x', extra: 1 } }, 400, 'evidence'],
      [{ extra: true }, 400],
      [{ householdId: undefined }, 400, 'householdId'],
      [{ households: [{ householdId: s.households[1]!.id }] }, 400, 'householdId'],
      [{ villageId: otherVillage.id }, 404],
    ];
    for (const [patch, status, path] of bad) {
      const res = await fileVia(s, patch);
      expect(res.status, JSON.stringify(patch)).to.equal(status);
      if (path)
        expect(
          res.body.errors.some(
            (e: { path: string }) => e.path === path || e.path.startsWith(`${path}.`),
          ),
          JSON.stringify(res.body.errors),
        ).to.equal(true);
    }
    for (const who of [s.council[1]!, s.households[1]!.user, s.admin]) {
      expect((await fileVia(s, {}, who)).status, who.user.role).to.equal(403);
    }
    const crossed = await fileVia(s, {}, otherClerk);
    expect(crossed.status).to.equal(404);
    await expectNothingStored(before);
  });
});

describe('POST /v1/submissions › caps', () => {
  it('reduces a filing to what is left of the monthly cap, says so, and refuses one at the cap with cap_reached', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      rule: { points: 4, capPerMonth: 10, title: '环境卫生' },
    });
    const on = '2026-03-05';
    expect((await file(s, { occurredOn: on })).points).to.equal(4);
    expect((await file(s, { occurredOn: '2026-03-20' })).points).to.equal(4);
    const third = await file(s, { occurredOn: '2026-03-28' });
    expect(third).to.include({ points: 2, requestedPoints: 4 });
    expect(third.capped).to.include({ limitedBy: 'month', cap: 10, points: 2, requestedPoints: 4 });
    expect(third.capped.message).to.contain('本月上限');
    const before = await countAll();
    const fourth = await fileVia(s, { occurredOn: on });
    expect(fourth.status).to.equal(409);
    expect(fourth.body.code).to.equal('cap_reached');
    await expectNothingStored(before);
    // The next month starts afresh; another household has its own cap.
    expect((await file(s, { occurredOn: '2026-04-01' })).points).to.equal(4);
    expect((await file(s, { occurredOn: on, householdId: s.households[2]!.id })).points).to.equal(
      4,
    );
  });

  it('holds the yearly cap across months', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      rule: { points: 30, capPerYear: 50 },
    });
    expect((await file(s, { occurredOn: '2025-01-10' })).points).to.equal(30);
    const second = await file(s, { occurredOn: '2025-07-10' });
    expect(second.capped).to.include({ limitedBy: 'year', cap: 50, points: 20 });
    expect((await fileVia(s, { occurredOn: '2025-12-31' })).body.code).to.equal('cap_reached');
    expect((await file(s, { occurredOn: '2026-01-01' })).points).to.equal(30);
  });

  it('never lets 30 concurrent filings overrun a cap: the grants add up to the cap exactly', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      rule: { points: 3, capPerMonth: 20 },
    });
    const results = await Promise.all(
      Array.from({ length: 30 }, () => fileVia(s, { occurredOn: '2026-05-05' })),
    );
    const granted = results.filter((r) => r.status === 201).reduce((a, r) => a + r.body.points, 0);
    expect(granted).to.equal(20);
    expect(results.filter((r) => r.status === 201)).to.have.length(7); // 6 × 3 + 1 × 2
    expect(results.filter((r) => r.status === 409 && r.body.code === 'cap_reached')).to.have.length(
      23,
    );
  });

  it('gives a rejected submission its points back to the cap', async () => {
    // Two members; member 0 lives in the subject household, so one reject is the majority.
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      quorum: 1,
      councilSize: 2,
      rule: { points: 10, capPerMonth: 10 },
    });
    const h0 = s.households[0]!.id;
    const sub = await file(s, { occurredOn: '2026-05-05', householdId: h0 });
    expect((await fileVia(s, { occurredOn: '2026-05-06', householdId: h0 })).body.code).to.equal(
      'cap_reached',
    );
    const rejected = await voteVia(sub.id, s.council[1]!, 'reject');
    expect(rejected.body.status).to.equal('rejected');
    expect((await file(s, { occurredOn: '2026-05-06', householdId: h0 })).points).to.equal(10);
    expect(await CapClaim.countDocuments({ submissionId: sub.id })).to.equal(2); // the claim and its release
  });
});

describe('POST /v1/submissions › batch (one activity, many households)', () => {
  it('files one submission with a line per household, each with its own quantity and cap', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: WIDE,
      households: 4,
      rule: { pointsPerUnit: 2, unit: '小时', capPerMonth: 8, title: '志愿服务' },
    });
    await file(s, { householdId: s.households[3]!.id, quantity: 3, occurredOn: '2026-06-01' }); // 6 of its 8 used
    const res = await fileVia(s, {
      householdId: undefined,
      occurredOn: '2026-06-02',
      households: [
        { householdId: s.households[1]!.id, quantity: 2 },
        { householdId: s.households[2]!.id, quantity: 1.5 },
        { householdId: s.households[3]!.id, quantity: 4 },
      ],
      evidence: { text: '六月二日村道清扫活动签到表' },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({
      batch: true,
      householdId: null,
      points: 4 + 3 + 2,
      requestedPoints: 4 + 3 + 8,
    });
    expect(res.body.lines.map((l: { points: number }) => l.points)).to.deep.equal([4, 3, 2]);
    expect(res.body.lines[2].capped).to.deep.equal({ limitedBy: 'month', cap: 8 });
  });

  it('refuses a batch of a deduction, a household listed twice, and more than 500 households', async () => {
    const s = await makeCouncilScene();
    const deduction = await makeRule({ kind: 'deduction' });
    const h = s.households[1]!.id;
    const before = await countAll();
    expect(
      (
        await fileVia(s, {
          householdId: undefined,
          ruleCode: deduction.code,
          households: [{ householdId: h }],
        })
      ).status,
    ).to.equal(400);
    expect(
      (
        await fileVia(s, {
          householdId: undefined,
          households: [{ householdId: h }, { householdId: h }],
        })
      ).body.errors[0].path,
    ).to.equal('households.1.householdId');
    expect(
      (
        await fileVia(s, {
          householdId: undefined,
          households: Array.from({ length: 501 }, () => ({ householdId: h })),
        })
      ).status,
    ).to.equal(400);
    expect((await fileVia(s, { householdId: undefined, households: [] })).status).to.equal(400);
    await expectNothingStored(before);
  });

  it('a council member of any household in the batch may not vote on it', async () => {
    const s = await makeCouncilScene();
    const sub = await file(s, {
      householdId: undefined,
      households: [{ householdId: s.households[0]!.id }, { householdId: s.households[1]!.id }],
    });
    expect((await voteVia(sub.id, s.council[0]!)).status).to.equal(403);
    expect((await voteVia(sub.id, s.council[1]!)).status).to.equal(200);
  });
});
