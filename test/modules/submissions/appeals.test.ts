import { expect } from '../../support/expect';
import { http, verifyChainViaApi } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { postEntry } from '../../../src/modules/ledger/ledger.service';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import { APPEAL_WINDOW_MS } from '../../../src/modules/submissions/submissions.service';
import {
  approve,
  file,
  getSub,
  makeCouncilScene,
  resetClock,
  shiftClock,
  type CouncilScene,
  type Json,
} from './scene';

const appealVia = (
  id: string,
  who: { auth: { Authorization: string } },
  reason = '当时是亲戚代办，并未超标准操办',
) => http().post(`/v1/submissions/${id}/appeals`).set(who.auth).send({ reason });
const decideVia = (
  id: string,
  who: { auth: { Authorization: string } },
  outcome: 'upheld' | 'dismissed',
  comment?: string,
) =>
  http()
    .post(`/v1/submissions/${id}/appeals/decision`)
    .set(who.auth)
    .send(comment ? { outcome, comment } : { outcome });

/** A posted 20-point deduction against household 1, which had 5 spendable and 5 merit points. */
async function postedDeduction(): Promise<{ s: CouncilScene; sub: Json }> {
  const s = await makeCouncilScene({
    quorum: 1,
    noticePeriod: 'PT0S',
    rule: { kind: 'deduction', points: 20, title: '大操大办' },
  });
  await postEntry({
    householdId: s.households[1]!.id,
    type: 'adjustment',
    points: 5,
    spendableDelta: 5,
    meritDelta: 5,
    shortfall: 'clamp',
    source: { type: 'adjustment', id: `seed-${s.households[1]!.id}` },
    reason: '初始积分',
  });
  const filed = await file(s);
  const posted = await approve(s, filed.id, 1);
  expect(posted.status).to.equal('posted');
  return { s, sub: posted };
}

describe('POST /v1/submissions/:id/appeals', () => {
  afterEach(() => resetClock());

  it('posts the deduction with merit −20 and spendable down to zero, and tells the household how long it may appeal', async () => {
    const { s, sub } = await postedDeduction();
    const entries = await Entry.find({ sourceType: 'submission', sourceId: sub.id }).lean();
    expect(entries).to.have.length(1);
    expect(entries[0]).to.include({
      type: 'deduction',
      points: -20,
      meritDelta: -20,
      spendableDelta: -5,
      spendableAfter: 0,
      meritAfter: -15,
    });
    expect(sub.appealDeadline).to.equal(
      new Date(new Date(sub.postedAt).getTime() + APPEAL_WINDOW_MS).toISOString(),
    );
    const inbox = await http()
      .get(`/v1/households/${s.households[1]!.id}/notifications`)
      .set(s.households[1]!.user.auth);
    expect(inbox.body.items.map((n: { kind: string }) => n.kind)).to.deep.equal([
      'posted',
      'deduction_filed',
    ]);
    expect(inbox.body.items[0].body).to.contain('申诉');
  });

  it('an upheld appeal posts one reversal that negates exactly what the deduction did, and the household is told', async () => {
    const { s, sub } = await postedDeduction();
    const appeal = await appealVia(sub.id, s.households[1]!.user);
    expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
    expect(appeal.body).to.include({
      status: 'pending',
      submissionId: sub.id,
      householdId: s.households[1]!.id,
    });
    const pending = await http().get('/v1/appeals').set(s.admin.auth);
    expect(pending.body.items.map((i: { id: string }) => i.id)).to.include(sub.id);

    const decided = await decideVia(sub.id, s.admin, 'upheld', '经乡镇复核，情况属实');
    expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
    expect(decided.body).to.include({ status: 'upheld', comment: '经乡镇复核，情况属实' });
    const reversal = await Entry.find({ sourceType: 'appeal', sourceId: appeal.body.id }).lean();
    expect(reversal).to.have.length(1);
    expect(reversal[0]).to.include({
      type: 'reversal',
      points: 20,
      meritDelta: 20,
      spendableDelta: 5,
      spendableAfter: 5,
      meritAfter: 5,
    });
    const account = await http()
      .get(`/v1/households/${s.households[1]!.id}/account`)
      .set(s.admin.auth);
    expect(account.body).to.include({ spendable: 5, merit: 5 });
    await verifyChainViaApi(s.households[1]!.id, s.admin.auth);

    const seen = await getSub(s, sub.id, s.households[1]!.user);
    expect(seen.appeal).to.include({ status: 'upheld' });
    expect(seen.status).to.equal('posted');
    const inbox = await http()
      .get(`/v1/households/${s.households[1]!.id}/notifications`)
      .set(s.households[1]!.user.auth);
    expect(inbox.body.items[0]).to.include({ kind: 'appeal_outcome' });
    expect(inbox.body.items[0].title).to.contain('申诉成立');
    expect(
      (await http().get('/v1/appeals').set(s.admin.auth)).body.items.map(
        (i: { id: string }) => i.id,
      ),
    ).to.not.include(sub.id);
  });

  it('a dismissed appeal posts nothing and tells the household', async () => {
    const { s, sub } = await postedDeduction();
    await appealVia(sub.id, s.households[1]!.user);
    const decided = await decideVia(sub.id, s.admin, 'dismissed');
    expect(decided.body.status).to.equal('dismissed');
    expect(
      await Entry.countDocuments({ sourceType: 'appeal', householdId: s.households[1]!.id }),
    ).to.equal(0);
    const inbox = await http()
      .get(`/v1/households/${s.households[1]!.id}/notifications`)
      .set(s.households[1]!.user.auth);
    expect(inbox.body.items[0].title).to.contain('申诉未获支持');
  });

  it('the appeals queue shows each appeal’s reason and filing time; the decision’s note reaches the household on the submission and in its notification', async () => {
    const { s, sub } = await postedDeduction();
    const household = s.households[1]!;
    const appeal = await appealVia(
      sub.id,
      household.user,
      '婚宴只办了八桌，没有超过村规民约的标准',
    );
    expect(appeal.status).to.equal(201);
    const queue = await http().get('/v1/appeals').set(s.admin.auth);
    expect(queue.status).to.equal(200);
    const item = queue.body.items.find((i: { id: string }) => i.id === sub.id);
    expect(item.appeal).to.include({
      id: appeal.body.id,
      status: 'pending',
      reason: '婚宴只办了八桌，没有超过村规民约的标准',
      filedAt: appeal.body.filedAt,
    });
    expect(Date.parse(item.appeal.filedAt)).to.be.closeTo(Date.now(), 60_000);

    const note = '经乡镇复核，婚宴实际为十二桌，超过村规民约八桌的标准，维持扣分。';
    const decided = await http()
      .post(`/v1/submissions/${sub.id}/appeals/decision`)
      .set(s.admin.auth)
      .send({ outcome: 'dismissed', comment: '已电话核实', note });
    expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
    expect(decided.body).to.include({ status: 'dismissed', note, comment: '已电话核实' });
    const seen = await getSub(s, sub.id, household.user);
    expect(seen.appeal).to.include({
      status: 'dismissed',
      note,
      reason: '婚宴只办了八桌，没有超过村规民约的标准',
    });
    const inbox = await http()
      .get(`/v1/households/${household.id}/notifications`)
      .set(household.user.auth);
    expect(inbox.body.items[0]).to.include({ kind: 'appeal_outcome' });
    expect(inbox.body.items[0].body).to.contain(`复核说明：${note}`);
    const done = await http().get('/v1/appeals?status=dismissed').set(s.admin.auth);
    expect(done.body.items.find((i: { id: string }) => i.id === sub.id).appeal).to.include({
      status: 'dismissed',
      note,
    });
    // The note is validated at the edge like any text: at most 500 characters.
    const other = await postedDeduction();
    await appealVia(other.sub.id, other.s.households[1]!.user);
    const tooLong = await http()
      .post(`/v1/submissions/${other.sub.id}/appeals/decision`)
      .set(other.s.admin.auth)
      .send({ outcome: 'upheld', note: '长'.repeat(501) });
    expect(tooLong.status).to.equal(400);
    expect(tooLong.body.errors[0].path).to.equal('note');
  });

  it('takes one appeal per deduction, from the household concerned only, within 30 days of posting', async () => {
    const { s, sub } = await postedDeduction();
    const before = await countAll();
    for (const who of [s.households[2]!.user, s.clerk, s.council[1]!, s.admin]) {
      expect((await appealVia(sub.id, who)).status, who.user.role).to.equal(403);
    }
    shiftClock(APPEAL_WINDOW_MS + 1000);
    const late = await appealVia(sub.id, s.households[1]!.user);
    expect(late.status).to.equal(409);
    expect(late.body).to.include({ code: 'conflict', reason: 'appeal_window_closed' });
    await expectNothingStored(before);
    resetClock();
    shiftClock(APPEAL_WINDOW_MS - 60_000);
    expect((await appealVia(sub.id, s.households[1]!.user)).status).to.equal(201);
    const again = await appealVia(sub.id, s.households[1]!.user);
    expect(again.status).to.equal(409);
    expect(again.body.reason).to.equal('appeal_already_filed');
  });

  it('refuses appeals of awards and of deductions not yet posted', async () => {
    const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT0S' });
    const award = await file(s);
    await approve(s, award.id, 1);
    expect((await appealVia(award.id, s.households[1]!.user)).status).to.equal(409);
    const d = await makeCouncilScene({ quorum: 1, rule: { kind: 'deduction', points: 10 } });
    const inReview = await file(d);
    expect((await appealVia(inReview.id, d.households[1]!.user)).status).to.equal(409);
  });

  it('decides an appeal once: concurrent decisions give one outcome and at most one reversal', async () => {
    const { s, sub } = await postedDeduction();
    const appeal = await appealVia(sub.id, s.households[1]!.user);
    expect((await decideVia(sub.id, s.clerk, 'upheld')).status).to.equal(403);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        decideVia(sub.id, s.admin, i % 2 ? 'upheld' : 'dismissed'),
      ),
    );
    expect(results.filter((r) => r.status === 200)).to.have.length(1);
    expect(results.filter((r) => r.status === 409)).to.have.length(11);
    const outcome = results.find((r) => r.status === 200)!.body.status;
    expect(await Entry.countDocuments({ sourceType: 'appeal', sourceId: appeal.body.id })).to.equal(
      outcome === 'upheld' ? 1 : 0,
    );
    await verifyChainViaApi(s.households[1]!.id, s.admin.auth);
  });
});
