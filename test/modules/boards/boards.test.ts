import { expect } from '../../support/expect';
import { http, makeUser, makeVillage } from '../../support/factories';
import { maskName } from '../../../src/modules/boards/boards.service';
import { APPEAL_WINDOW_MS } from '../../../src/modules/submissions/submissions.service';
import {
  approve,
  file,
  makeCouncilScene,
  makeRule,
  resetClock,
  shiftClock,
  type CouncilScene,
} from '../submissions/scene';

const DAY = 24 * 3600_000;
const boardsVia = (s: CouncilScene, month: string, who = s.households[2]!.user) =>
  http().get(`/v1/villages/${s.villageId}/boards?month=${month}`).set(who.auth);

/** Households 1 (李四) and 2 (王小二) get awards; household 1 a 20-point deduction. */
async function boardScene() {
  const s = await makeCouncilScene({
    quorum: 1,
    noticePeriod: 'PT0S',
    rule: { points: 10, title: '孝老爱亲' },
  });
  const deduction = await makeRule({ kind: 'deduction', points: 20, title: '赌博' });
  for (const h of [1, 2])
    await approve(s, (await file(s, { householdId: s.households[h]!.id })).id, 1);
  const d = await file(s, { householdId: s.households[1]!.id, ruleCode: deduction.code });
  const posted = await approve(s, d.id, 1);
  expect(posted.status).to.equal('posted');
  const month = posted.postedAt.slice(0, 7);
  return { s, deductionId: d.id as string, month };
}

describe('GET /v1/villages/:id/boards (红黑榜)', () => {
  afterEach(() => resetClock());

  it('masks names: first and last character stay', () => {
    expect(['张三明', '李四', '欧阳小明', '王', ' 赵六 '].map(maskName)).to.deep.equal([
      '张*明',
      '李*',
      '欧**明',
      '*',
      '赵*',
    ]);
  });

  it("lists the month's posted awards on the red list, names masked unless the household consented", async () => {
    const { s, month } = await boardScene();
    const consent = await http()
      .put(`/v1/households/${s.households[2]!.id}/board-consent`)
      .set(s.households[2]!.user.auth)
      .send({ named: true });
    expect(consent.status, JSON.stringify(consent.body)).to.equal(200);
    const res = await boardsVia(s, month);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(
      res.body.red
        .map((r: { name: string; named: boolean; points: number }) => [r.name, r.named, r.points])
        .sort(),
    ).to.deep.equal([
      ['李*', false, 10],
      ['王小二', true, 10],
    ]);
    expect(res.body.red[0].items[0]).to.include({ ruleTitle: '孝老爱亲', points: 10 });
    // A deduction inside its appeal window is not on the black list yet.
    expect(res.body.black).to.deep.equal([]);
    // Another month is empty.
    expect((await boardsVia(s, '2001-01')).body.red).to.deep.equal([]);
  });

  it('puts a deduction on the black list once its appeal window closed, and takes its name off after the village period', async () => {
    const { s, month } = await boardScene();
    shiftClock(APPEAL_WINDOW_MS + DAY);
    const black = (await boardsVia(s, month)).body.black;
    expect(black).to.have.length(1);
    expect(black[0]).to.include({ name: '李*', named: false, points: -20 });
    const set = await http()
      .put(`/v1/villages/${s.villageId}/board-settings`)
      .set(s.clerk.auth)
      .send({ blackListRetentionDays: 10 });
    expect(set.body).to.include({ blackListEnabled: true, blackListRetentionDays: 10 });
    expect((await boardsVia(s, month)).body.black).to.have.length(1);
    shiftClock(10 * DAY);
    expect((await boardsVia(s, month)).body.black).to.deep.equal([]);
  });

  it('keeps a deduction off the black list while its appeal is pending and after it was upheld; a dismissed one goes on', async () => {
    const a = await boardScene();
    const b = await boardScene();
    for (const x of [a, b]) {
      const appeal = await http()
        .post(`/v1/submissions/${x.deductionId}/appeals`)
        .set(x.s.households[1]!.user.auth)
        .send({ reason: '并未参与' });
      expect(appeal.status).to.equal(201);
    }
    shiftClock(APPEAL_WINDOW_MS + DAY);
    expect((await boardsVia(a.s, a.month)).body.black).to.deep.equal([]);
    await http()
      .post(`/v1/submissions/${a.deductionId}/appeals/decision`)
      .set(a.s.admin.auth)
      .send({ outcome: 'upheld' });
    await http()
      .post(`/v1/submissions/${b.deductionId}/appeals/decision`)
      .set(b.s.admin.auth)
      .send({ outcome: 'dismissed' });
    expect((await boardsVia(a.s, a.month)).body.black).to.deep.equal([]);
    expect((await boardsVia(b.s, b.month)).body.black).to.have.length(1);
  });

  it('lets a village switch the black list off', async () => {
    const { s, month } = await boardScene();
    shiftClock(APPEAL_WINDOW_MS + DAY);
    const off = await http()
      .put(`/v1/villages/${s.villageId}/board-settings`)
      .set(s.admin.auth)
      .send({ blackListEnabled: false });
    expect(off.status).to.equal(200);
    const res = await boardsVia(s, month);
    expect(res.body).to.include({ blackListEnabled: false });
    expect(res.body.black).to.deep.equal([]);
    expect(res.body.red).to.have.length(2);
  });

  it('shows the boards to the village only, and refuses bad months, settings and consents', async () => {
    const { s, month } = await boardScene();
    const elsewhere = await makeUser('clerk', { villageId: (await makeVillage()).id });
    expect((await boardsVia(s, month, elsewhere)).status).to.equal(404);
    for (const m of ['2026-13', '2026-1', 'x', ''])
      expect((await boardsVia(s, m)).status, m).to.equal(400);
    expect(
      (
        await http()
          .put(`/v1/villages/${s.villageId}/board-settings`)
          .set(s.council[1]!.auth)
          .send({ blackListEnabled: false })
      ).status,
    ).to.equal(403);
    expect(
      (
        await http()
          .put(`/v1/villages/${s.villageId}/board-settings`)
          .set(s.clerk.auth)
          .send({ blackListRetentionDays: 0 })
      ).status,
    ).to.equal(400);
    expect(
      (
        await http()
          .put(`/v1/villages/${s.villageId}/board-settings`)
          .set(elsewhere.auth)
          .send({ blackListEnabled: false })
      ).status,
    ).to.equal(404);
    // A clerk records consent from a signed paper form, and must name it.
    const path = `/v1/households/${s.households[1]!.id}/board-consent`;
    expect((await http().put(path).set(s.clerk.auth).send({ named: true })).status).to.equal(400);
    expect(
      (await http().put(path).set(s.clerk.auth).send({ named: true, formRef: '同意书-2026-031' }))
        .body,
    ).to.include({ named: true, formRef: '同意书-2026-031' });
    expect(
      (await http().put(path).set(s.households[2]!.user.auth).send({ named: true })).status,
    ).to.equal(404);
  });
});
