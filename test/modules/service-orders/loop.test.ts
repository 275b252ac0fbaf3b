/**
 * The volunteer service loop through the API: 点单 → 派单 → 接单 → 评单, the hours turned into
 * points by the rule in force on the day of service, outside volunteers' hours kept only in
 * their own record, steps out of order refused, and exactly one submission per volunteer and
 * order however often (and however interrupted) the rating's work is redone.
 */
import { expect } from '../../support/expect';
import { http, makeHousehold, makeUser, verifyChainViaApi } from '../../support/factories';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import { createRuleVersion } from '../../../src/modules/rules/rules.service';
import { Submission } from '../../../src/modules/submissions/submissions.model';
import { sweepDue } from '../../../src/modules/submissions/submissions.service';
import { updateVillagePolicy } from '../../../src/modules/villages/villages.service';
import { VolunteerHours } from '../../../src/modules/volunteers/volunteers.model';
import { ORDER_GUARD_MS } from '../../../src/modules/service-orders/service-orders.records';
import { OrderWakeup } from '../../../src/modules/service-orders/service-orders.model';
import {
  reconcileOrder,
  sweepOrderWakeups,
} from '../../../src/modules/service-orders/service-orders.reconcile';
import { resetClock, shiftClock, voteVia } from '../submissions/scene';
import {
  daysFromNow,
  fullLoop,
  ok,
  order,
  orderVia,
  makeServiceScene,
  step,
  testIdNumber,
  today,
  type ServiceScene,
} from './scene';
import { orderFaults } from '../../../src/platform/faults';

async function entriesOfSubmission(submissionId: string) {
  return Entry.find({ sourceType: 'submission', sourceId: submissionId }).lean();
}

describe('the volunteer service loop (O1, O3, O4)', () => {
  afterEach(() => {
    resetClock();
    for (const k of Object.keys(orderFaults)) delete (orderFaults as Record<string, unknown>)[k];
  });

  it('order → dispatch → accept → complete → rate → council → posted points, the hours scored by the rule in force on the day of service', async () => {
    const s = await makeServiceScene({ quorum: 2, noticePeriod: 'PT0S', pointsPerHour: 2 });
    const o = await order(s);
    expect(o.status).to.equal('ordered');
    expect(o.itemName).to.equal('孤寡老人关爱');
    expect((await ok(s, o.id, 'dispatch', { teamId: s.team.id })).status).to.equal('dispatched');
    const ids = [s.volunteers[0]!.id, s.volunteers[1]!.id, s.outsider.id];
    expect((await ok(s, o.id, 'accept', { volunteerIds: ids })).status).to.equal('accepted');
    const servedOn = today();
    const done = await ok(s, o.id, 'complete', {
      hours: [
        { volunteerId: ids[0], hours: 3 },
        { volunteerId: ids[1], hours: 2 },
        { volunteerId: ids[2], hours: 1.5 },
      ],
      servedOn,
    });
    expect(done.status).to.equal('completed');

    // The county raises the rate from tomorrow; the requester rates two days later.
    await createRuleVersion(undefined, {
      code: s.rule.code,
      title: '志愿服务',
      kind: 'award',
      pointsPerUnit: 5,
      unit: '小时',
      effectiveFrom: daysFromNow(1),
    });
    shiftClock(2 * 24 * 3600_000);
    const rated = await ok(s, o.id, 'rating', { stars: 5, comment: '志愿者很热心' });
    expect(rated.status).to.equal('rated');
    expect(rated.submissions).to.have.length(2); // the outsider has no household
    for (const [i, hours] of [3, 2].entries()) {
      const sub = (
        await http().get(`/v1/submissions/${rated.submissions[i].submissionId}`).set(s.clerk.auth)
      ).body;
      expect(sub.serviceOrderId).to.equal(o.id);
      expect(sub.volunteerId).to.equal(ids[i]);
      expect(sub.householdId).to.equal(s.households[i]!.id);
      expect(sub.occurredOn).to.equal(servedOn);
      expect(sub.ruleVersion, 'the version in force on the day of service').to.equal(1);
      expect(sub.points).to.equal(hours * 2);
      expect(sub.status).to.equal('in_review');
    }
    // The council approves each; with a notice of PT0S the points post at once.
    for (const x of rated.submissions) {
      expect((await voteVia(x.submissionId, s.council[0]!)).status).to.equal(200);
      const res = await voteVia(x.submissionId, s.council[1]!);
      expect(res.body.status, JSON.stringify(res.body)).to.equal('posted');
    }
    for (const [i, hours] of [3, 2].entries()) {
      const entries = await entriesOfSubmission(rated.submissions[i].submissionId);
      expect(entries.map((e) => [e.householdId, e.points])).to.deep.equal([
        [s.households[i]!.id, hours * 2],
      ]);
      const chain = await verifyChainViaApi(s.households[i]!.id, s.admin.auth);
      expect(chain[chain.length - 1]!.points).to.equal(hours * 2);
    }
    // Hours go to each volunteer's record, the outsider's too, and nowhere else.
    for (const [i, v] of [s.volunteers[0]!, s.volunteers[1]!, s.outsider].entries()) {
      const h = (await http().get(`/v1/volunteers/${v.id}/hours`).set(s.clerk.auth)).body;
      expect(h.total).to.equal([3, 2, 1.5][i]);
      expect(h.items).to.have.length(1);
      expect(h.items[0]).to.include({
        orderId: o.id,
        date: servedOn,
        hours: [3, 2, 1.5][i],
        seq: 1,
      });
    }
    expect(await Submission.countDocuments({ serviceOrderId: o.id })).to.equal(2);
  });

  it('files straight to public notice, without a vote, where the village policy says rated hours need none', async () => {
    const s = await makeServiceScene({ ratedHoursNeedNoVote: true, noticePeriod: 'P1D' });
    const rated = await fullLoop(s);
    for (const x of rated.submissions) {
      const sub = (await http().get(`/v1/submissions/${x.submissionId}`).set(s.clerk.auth)).body;
      expect(sub.status).to.equal('in_notice');
      expect(sub.approvals).to.equal(0);
      expect(sub.history.map((h: { type: string }) => h.type)).to.deep.equal([
        'filed',
        'notice_started',
      ]);
      expect(sub.history[1].byRole).to.equal('system');
    }
    // It posts when the notice ends, like any other.
    shiftClock(24 * 3600_000 + 1000);
    await sweepDue();
    for (const x of rated.submissions)
      expect(await entriesOfSubmission(x.submissionId)).to.have.length(1);
  });

  it('answers 409 conflict to a step out of order, and changes nothing', async () => {
    const s = await makeServiceScene();
    const o = await order(s);
    const ids = [s.volunteers[0]!.id];
    const conflict = async (
      what: 'dispatch' | 'accept' | 'complete' | 'rating',
      body: Record<string, unknown>,
    ) => {
      const res = await step(s, o.id, what, body);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).to.equal(409);
      expect(res.body.code).to.equal('conflict');
    };
    await conflict('accept', { volunteerIds: ids });
    await conflict('complete', { hours: [{ volunteerId: ids[0], hours: 1 }] });
    await conflict('rating', { stars: 5 });
    await ok(s, o.id, 'dispatch', { teamId: s.team.id });
    await conflict('dispatch', { teamId: s.team.id });
    await conflict('rating', { stars: 5 });
    await ok(s, o.id, 'accept', { volunteerIds: ids });
    await conflict('accept', { volunteerIds: ids });
    await ok(s, o.id, 'complete', { hours: [{ volunteerId: ids[0], hours: 1 }] });
    await conflict('complete', { hours: [{ volunteerId: ids[0], hours: 1 }] });
    await ok(s, o.id, 'rating', { stars: 3 });
    await conflict('rating', { stars: 5 });
    const final = (await http().get(`/v1/service-orders/${o.id}`).set(s.clerk.auth)).body;
    expect(final.stars).to.equal(3);
    expect(final.history.map((h: { type: string }) => h.type)).to.deep.equal([
      'ordered',
      'dispatched',
      'accepted',
      'completed',
      'rated',
      'hours_recorded',
      'filed',
    ]);
  });

  it('refuses what does not fit the order: a team of another village, a volunteer not in the team, hours of a volunteer not named', async () => {
    const s = await makeServiceScene();
    const o = await order(s);
    const wrong = await http()
      .post('/v1/teams')
      .set(s.admin.auth)
      .send({ name: '别村队', category: 'care', level: 'village', villageId: s.otherVillageId });
    expect(wrong.status, JSON.stringify(wrong.body)).to.equal(201);
    expect((await step(s, o.id, 'dispatch', { teamId: wrong.body.id })).body.code).to.equal(
      'validation_failed',
    );
    const health = await http()
      .post('/v1/teams')
      .set(s.clerk.auth)
      .send({ name: '卫生队', category: 'health', level: 'village' });
    expect(
      (await step(s, o.id, 'dispatch', { teamId: health.body.id })).body.errors[0].path,
    ).to.equal('teamId');
    await ok(s, o.id, 'dispatch', { teamId: s.team.id });
    const stranger = (
      await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '路人', idNumber: testIdNumber() })
    ).body;
    expect(
      (await step(s, o.id, 'accept', { volunteerIds: [stranger.id] })).body.errors[0].path,
    ).to.equal('volunteerIds.0');
    await ok(s, o.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] });
    const res = await step(s, o.id, 'complete', {
      hours: [{ volunteerId: s.volunteers[1]!.id, hours: 1 }],
    });
    expect(res.body.errors[0].path).to.equal('hours.0.volunteerId');
    expect(
      (
        await step(s, o.id, 'complete', {
          hours: [{ volunteerId: s.volunteers[0]!.id, hours: 1 }],
          servedOn: daysFromNow(1),
        })
      ).status,
    ).to.equal(400);
    expect(
      (
        await step(s, o.id, 'complete', {
          hours: [{ volunteerId: s.volunteers[0]!.id, hours: 1.25 }],
        })
      ).status,
    ).to.equal(400);
  });

  it('lets a team member list the open orders, claim one and accept it with their own login; a household not in the team gets 404', async () => {
    const s = await makeServiceScene();
    const member = await makeUser('household', {
      householdId: s.households[0]!.id,
      volunteerId: s.volunteers[0]!.id,
    });
    const o = await order(s);
    const outsider = await makeUser('household', { householdId: s.households[3]!.id });
    expect((await step(s, o.id, 'dispatch', { teamId: s.team.id }, outsider)).status).to.equal(404);
    const open = await http().get(`/v1/service-orders?openFor=${s.team.id}`).set(member.auth);
    expect(open.body.items.map((x: { id: string }) => x.id)).to.include(o.id);
    expect(
      (await http().get(`/v1/service-orders?openFor=${s.team.id}`).set(outsider.auth)).status,
    ).to.equal(404);
    const claimed = await ok(s, o.id, 'dispatch', { teamId: s.team.id }, member);
    expect(claimed.history[1].byRole).to.equal('team_member');
    await ok(s, o.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] }, member);
    await ok(
      s,
      o.id,
      'complete',
      { hours: [{ volunteerId: s.volunteers[0]!.id, hours: 2 }] },
      member,
    );
    // The member's household is not the requester: it cannot rate.
    expect((await step(s, o.id, 'rating', { stars: 5 }, member)).status).to.equal(403);
  });

  it('a household orders only for itself (another household is 404); the clerk and the township order for one of their villages', async () => {
    const s = await makeServiceScene();
    expect((await orderVia(s, { householdId: s.households[3]!.id })).status).to.equal(404);
    expect((await orderVia(s, {}, s.clerk)).status).to.equal(201);
    expect((await orderVia(s, {}, s.township)).status).to.equal(201);
    expect((await orderVia(s, {}, s.otherTownship)).status).to.equal(404);
    expect((await orderVia(s, { itemCode: 'no-such-item' })).body.errors[0].path).to.equal(
      'itemCode',
    );
    expect((await orderVia(s, { wantedBy: '2001-01-01' })).body.errors[0].path).to.equal(
      'wantedBy',
    );
  });

  it('two dispatches at once: one wins, the other is 409, and one dispatch event exists', async () => {
    const s = await makeServiceScene();
    const o = await order(s);
    const results = await Promise.all([
      step(s, o.id, 'dispatch', { teamId: s.team.id }),
      step(s, o.id, 'dispatch', { teamId: s.team.id }, s.township),
      step(s, o.id, 'dispatch', { teamId: s.team.id }, s.admin),
    ]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409, 409]);
    const final = (await http().get(`/v1/service-orders/${o.id}`).set(s.clerk.auth)).body;
    expect(final.history.filter((h: { type: string }) => h.type === 'dispatched')).to.have.length(
      1,
    );
  });

  it('files exactly one submission per volunteer and records the hours once when the rating dies halfway and is finished by retries and the sweeper at once', async () => {
    const s = await makeServiceScene();
    const o = await order(s);
    await ok(s, o.id, 'dispatch', { teamId: s.team.id });
    const ids = [s.volunteers[0]!.id, s.volunteers[1]!.id, s.outsider.id];
    await ok(s, o.id, 'accept', { volunteerIds: ids });
    await ok(s, o.id, 'complete', { hours: ids.map((volunteerId) => ({ volunteerId, hours: 2 })) });
    let crashes = 0;
    orderFaults.afterFiled = () => {
      if (crashes++ === 0) throw new Error('injected crash after filing the first submission');
    };
    const res = await step(s, o.id, 'rating', { stars: 4 });
    expect(res.status).to.equal(500);
    expect(await OrderWakeup.countDocuments({ orderId: o.id, kind: 'guard' })).to.equal(1);
    expect(await Submission.countDocuments({ serviceOrderId: o.id })).to.equal(1);
    // A retried rating is a conflict (it was recorded); the work is finished by everyone at once.
    expect((await step(s, o.id, 'rating', { stars: 4 })).status).to.equal(409);
    shiftClock(ORDER_GUARD_MS + 1000);
    await Promise.all([
      sweepOrderWakeups(),
      sweepOrderWakeups(),
      reconcileOrder(o.id),
      reconcileOrder(o.id),
      reconcileOrder(o.id),
    ]);
    expect(await Submission.countDocuments({ serviceOrderId: o.id })).to.equal(2);
    for (const v of ids)
      expect(await VolunteerHours.countDocuments({ chain: v, orderId: o.id })).to.equal(1);
    expect(await OrderWakeup.countDocuments({ orderId: o.id })).to.equal(0);
    const final = (await http().get(`/v1/service-orders/${o.id}`).set(s.clerk.auth)).body;
    expect(
      final.submissions.map((x: { volunteerId: string }) => x.volunteerId).sort(),
    ).to.deep.equal([ids[0], ids[1]].sort());
  });

  it('files nothing, and says why, when the village’s hours rule is not in force; the hours are still recorded', async () => {
    const s = await makeServiceScene();
    await updateVillagePolicy(s.villageId, { hoursRuleCode: 'no-such-rule' });
    const rated = await fullLoop(s);
    expect(
      rated.submissions.map((x: { skipped?: string; submissionId: string | null }) => [
        x.submissionId,
        x.skipped,
      ]),
    ).to.deep.equal([
      [null, 'no_rule'],
      [null, 'no_rule'],
    ]);
    const h = (await http().get(`/v1/volunteers/${s.volunteers[0]!.id}/hours`).set(s.clerk.auth))
      .body;
    expect(h.total).to.equal(3);
  });

  it('a household of another village may not read the order (404); the township and the supervisor of the village may', async () => {
    const s = await makeServiceScene();
    const o = await order(s);
    const elsewhere = await makeUser('household', {
      householdId: (await makeHousehold(s.otherVillageId)).id,
    });
    expect((await http().get(`/v1/service-orders/${o.id}`).set(elsewhere.auth)).status).to.equal(
      404,
    );
    expect(
      (await http().get(`/v1/service-orders/${o.id}`).set(s.otherTownship.auth)).status,
    ).to.equal(404);
    expect((await http().get(`/v1/service-orders/${o.id}`).set(s.township.auth)).status).to.equal(
      200,
    );
    expect((await http().get(`/v1/service-orders/${o.id}`).set(s.supervisor.auth)).status).to.equal(
      200,
    );
    expect((await step(s, o.id, 'dispatch', { teamId: s.team.id }, s.supervisor)).status).to.equal(
      403,
    );
  });
});

export type { ServiceScene };
